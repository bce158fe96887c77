// Small behaviours without inline script (the CSP forbids it).
// Forms with data-confirm ask before submitting (removing a team member, leaving).
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm) {
    if (!window.confirm(form.dataset.confirm)) {
      ev.preventDefault();
    }
  }
});
