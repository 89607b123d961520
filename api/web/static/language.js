// The language switch keeps the reader on the same place of the same page: the server builds
// the link from the URL it saw, which never holds the fragment, and on a one-time link's page
// (/passkey#secret, /probe#secret) the fragment is the link itself.
"use strict";

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-language-switch]");
  if (link) {
    link.hash = window.location.hash;
  }
});
