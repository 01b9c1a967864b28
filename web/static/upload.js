// Uploads with progress, for every upload form of the console (a product's
// documents, a deal's files): a form marked data-upload (multipart, a file input) is
// sent with XMLHttpRequest so that its <progress> follows the upload's progress
// events; the answer (the page the server redirects to, or the form with its
// problems) then takes the place of the page's main region, as a plain submit
// would have shown it. Without JavaScript the form is an ordinary multipart form.
(() => {
  "use strict";

  const root = document.documentElement;

  function show(html, url) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const main = doc.querySelector("main");
    if (!main) {
      return false;
    }
    document.querySelector("main").replaceWith(document.adoptNode(main));
    if (doc.title) document.title = doc.title;
    if (url && url !== location.href) history.pushState({}, "", url);
    const hash = url ? new URL(url).hash : "";
    const target = hash && document.getElementById(hash.slice(1));
    if (target) target.scrollIntoView();
    return true;
  }

  function send(form) {
    const progress = form.querySelector("progress");
    const status = form.querySelector("[data-upload-status]");
    const button = form.querySelector("button[type=submit]");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.responseType = "text";
    if (progress) {
      progress.hidden = false;
      progress.value = 0;
    }
    if (button) button.disabled = true;
    // The highest share sent, on the page's root, for those who watch it (the
    // browser tests) as for the eye.
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable || !progress) return;
      progress.max = e.total;
      progress.value = e.loaded;
      const pct = Math.floor((100 * e.loaded) / e.total);
      if (status) status.textContent = pct + "%";
      root.dataset.uploadProgress = String(Math.max(pct, Number(root.dataset.uploadProgress || 0)));
    });
    xhr.addEventListener("load", () => {
      // A redirect was followed: the answer is the product's page. A refusal (422,
      // 409, 413) carries its page too, problems and all.
      if (!show(xhr.responseText, xhr.status < 300 ? xhr.responseURL : "")) {
        location.assign(xhr.responseURL || form.action);
      }
    });
    xhr.addEventListener("error", () => {
      if (button) button.disabled = false;
      if (status) {
        status.textContent = form.dataset.uploadFailed || "";
        status.classList.add("problem");
      }
    });
    xhr.send(new FormData(form));
  }

  // Delegated, so that a form swapped in by the answer works the same.
  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("form[data-upload]") || !window.FormData) return;
    e.preventDefault();
    send(form);
  });
})();
