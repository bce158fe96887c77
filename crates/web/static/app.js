// Small behaviours without inline script (the CSP forbids it).
// Forms, or the button that submits them, with data-confirm ask before submitting
// (removing a team member, leaving, sending a letter, which shares the chart).
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  if (!(form instanceof HTMLFormElement)) {
    return;
  }
  var button = ev.submitter;
  var message = (button && button.dataset && button.dataset.confirm) || form.dataset.confirm;
  if (message && !window.confirm(message)) {
    ev.preventDefault();
  }
});
