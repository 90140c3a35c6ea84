/* Opsdesk ticket forms: small progressive enhancements; every form works without them. */
(function () {
  "use strict";

  function byRole(form, role) {
    return form.querySelector('[data-role="' + role + '"]');
  }

  // Engineers of the chosen vendor only (options carry data-vendor).
  function narrowEngineers(form) {
    var vendor = byRole(form, "vendor");
    var engineer = byRole(form, "engineer");
    if (!vendor || !engineer) return;
    Array.prototype.forEach.call(engineer.options, function (option) {
      var owner = option.getAttribute("data-vendor");
      var hide = Boolean(owner) && owner !== vendor.value;
      option.hidden = hide;
      option.disabled = hide;
      if (hide && option.selected) engineer.value = "";
    });
  }

  function wireDispatch(form) {
    var system = byRole(form, "system");
    var vendor = byRole(form, "vendor");
    if (!vendor) return;
    var touched = vendor.value !== "";
    vendor.addEventListener("change", function () {
      touched = true;
      narrowEngineers(form);
    });
    if (system) {
      // The system's responsible vendor is the default, until the agent picks one by hand.
      var preselect = function () {
        if (touched) return;
        var option = system.options[system.selectedIndex];
        var owner = option ? option.getAttribute("data-vendor") : null;
        vendor.value = owner || "";
        narrowEngineers(form);
      };
      system.addEventListener("change", preselect);
      if (!touched) preselect();
    }
    narrowEngineers(form);
  }

  // Grade only matters for incidents.
  function wireGrade(form) {
    var kind = form.querySelector('[name="kind"]');
    var grade = form.querySelector("#field-grade");
    if (!kind || !grade) return;
    var sync = function () {
      var incident = kind.value === "incident";
      grade.classList.toggle("opacity-50", !incident);
      var select = grade.querySelector("select");
      if (select) select.required = incident;
    };
    kind.addEventListener("change", sync);
    sync();
  }

  // Ctrl+Enter (or Cmd+Enter) in a textarea submits its form, as Enter does in a text field.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.tagName === "TEXTAREA" && target.form) {
      event.preventDefault();
      if (target.form.requestSubmit) target.form.requestSubmit();
      else target.form.submit();
    }
  });

  // Forms that create something submit once: a double click would log the call twice (the
  // server also recognises a resent form by its submission token: tickets/views/once.py).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-submit-once") || event.defaultPrevented) return;
    if (form.getAttribute("data-submitting")) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-submitting", "1");
    // After this turn, so that the clicked button's own name and value are still sent.
    setTimeout(function () {
      form.querySelectorAll('button[type="submit"], input[type="submit"]').forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });
  // Back from the next page (bfcache), the form is usable again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      form.removeAttribute("data-submitting");
      form.querySelectorAll('button[type="submit"], input[type="submit"]').forEach(function (button) {
        button.disabled = false;
      });
    });
  });

  // A "select all" checkbox for the bulk form's rows.
  document.addEventListener("change", function (event) {
    var name = event.target.getAttribute("data-check-all");
    if (!name) return;
    document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
      box.checked = event.target.checked;
    });
  });

  function wireBulk(form) {
    var action = byRole(form, "bulk-action");
    var vendor = form.querySelector('[name="vendor"]');
    if (!action || !vendor) return;
    var sync = function () {
      vendor.classList.toggle("d-none", action.value !== "dispatch");
    };
    action.addEventListener("change", sync);
    sync();
  }

  document.querySelectorAll("form").forEach(function (form) {
    wireDispatch(form);
    wireGrade(form);
    wireBulk(form);
  });
})();
