"""``field__substring``: case-insensitive substring match that a trigram index can serve.

Django's ``icontains`` compiles to ``UPPER(col::text) LIKE UPPER(...)`` on PostgreSQL, which a
``gin_trgm_ops`` index on the plain column cannot serve; ``ILIKE`` can.
"""

from django.db.models import Lookup, TextField


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@TextField.register_lookup
class Substring(Lookup):
    lookup_name = "substring"

    def get_db_prep_lookup(self, value, connection):
        return ("%s", [f"%{escape_like(str(value))}%"])

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]
        # SQLite's LIKE is case-insensitive for ASCII; that is all the dev database needs.
        return f"{lhs} LIKE {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]
