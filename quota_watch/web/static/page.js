// Progressive enhancement only: the page works without it. Filters apply as they are ticked.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  form.classList.add("live");
  form.addEventListener("change", function () { form.submit(); });
})();
