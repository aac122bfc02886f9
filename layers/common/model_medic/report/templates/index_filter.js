(function () {
  "use strict";
  // The index's filter: rows by grade and by a part of the endpoint's name. It reads only the
  // rows' data attributes and sets only `hidden` and text: nothing is parsed as HTML.
  // The filter can be given in the link: index.html#grade=C&name=fraud
  var form = document.getElementById("filter");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#endpoints tbody tr"));
  var shown = document.getElementById("shown");
  function apply() {
    var grades = form.elements.grade.value;
    var name = form.elements.name.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var match = (!grades || grades.indexOf(row.getAttribute("data-grade")) !== -1) &&
        (!name || row.getAttribute("data-name").toLowerCase().indexOf(name) !== -1);
      row.hidden = !match;
      if (match) {
        count += 1;
      }
    });
    shown.textContent = count + " of " + rows.length + " shown";
  }
  var asked = new URLSearchParams(window.location.hash.slice(1));
  var grade = asked.get("grade") || "";
  if (Array.prototype.some.call(form.elements.grade.options, function (o) { return o.value === grade; })) {
    form.elements.grade.value = grade;
  }
  form.elements.name.value = asked.get("name") || "";
  form.addEventListener("input", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.hidden = false;
  apply();
})();
