// "Print" buttons: the one script of the pages, served from /static (no inline script).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) {
    window.print();
  }
});
