"""``field__substring``: case-insensitive substring match that a trigram index can serve.

Django's ``icontains`` compiles to ``UPPER(col::text) LIKE UPPER(...)`` on PostgreSQL, which a
``gin_trgm_ops`` index on the plain column cannot serve; ``ILIKE`` can.
"""

from django.db.models import CharField, IntegerField, Lookup, TextField


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


@CharField.register_lookup
@IntegerField.register_lookup
class LiteralIn(Lookup):
    """``field__literal_in=[...]`` for a field with choices: the values are written into the SQL.

    With prepared statements PostgreSQL plans a statement once for average parameter values
    (a generic plan). On a skewed column that plan is wrong for the rare values: most tickets
    are closed and few are new, and ``status = $1 ORDER BY id DESC LIMIT 26`` walked the whole
    primary key for an empty "unassigned" queue (190 ms on a million tickets). Written in, each
    set of values is a statement of its own, with a plan of its own. Only values among the
    field's choices are accepted, so nothing from a request reaches the SQL unchecked.
    """

    lookup_name = "literal_in"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        allowed = {str(value) for value, _label in self.lhs.output_field.choices or ()}
        values = [self.lhs.output_field.to_python(value) for value in self.rhs]
        if any(str(value) not in allowed for value in values):
            raise ValueError(f"literal_in accepts only the field's choices, not {values!r}")
        if not values:
            return "1 = 0", []
        literals = ", ".join(
            str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"
            for value in values
        )
        return f"{lhs} IN ({literals})", list(lhs_params)
