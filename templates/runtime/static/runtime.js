// Progressive enhancement only: hides questions whose condition (show_if) is not met.
// Without this script every question shows with its "Besvara bara om …" note, and the
// server enforces the conditions either way.
(function () {
  "use strict";
  document.querySelectorAll("form").forEach(function (form) {
    var rules = [];
    form.querySelectorAll("[data-show-if]").forEach(function (el) {
      rules.push({ el: el, name: el.getAttribute("data-show-if"), values: el.getAttribute("data-show-if-values").split("|") });
    });
    if (!rules.length) return;
    function update() {
      rules.forEach(function (rule) {
        var chosen = Array.prototype.map.call(form.querySelectorAll('[name="' + rule.name + '"]:checked'), function (i) { return i.value; });
        var show = chosen.some(function (v) { return rule.values.indexOf(v) !== -1; });
        rule.el.classList.toggle("js-hidden", !show);
      });
    }
    form.addEventListener("change", update);
    update();
  });
})();

// The error-summary pattern (issue 15): a page shown again with errors moves the focus to
// its summary at the top, so a screen reader reads it and the keyboard starts there.
(function () {
  "use strict";
  var summary = document.querySelector(".rt-error-summary[tabindex]");
  if (summary) {
    summary.focus();
  }
})();
