// The deal page's upload with a progress bar: the form posts as it would without
// JavaScript (multipart, with its CSRF field), through XMLHttpRequest so that the
// bytes sent can be shown. The answer is the page the plain form would have
// loaded: the deal's page after the redirect, or the form with its problems.
(() => {
  "use strict";

  function upload(form, event) {
    if (!window.FormData || !window.XMLHttpRequest) return; // the plain form posts
    event.preventDefault();
    const bar = form.querySelector("[data-upload-progress]");
    const status = form.querySelector("[data-upload-status]");
    const button = form.querySelector("button[type=submit]");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.responseType = "document";
    if (bar) {
      bar.hidden = false;
      bar.value = 0;
    }
    if (button) button.disabled = true;
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable || !bar) return;
      bar.value = Math.round((100 * e.loaded) / e.total);
      if (status) status.textContent = bar.value + "%";
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300 && xhr.responseURL) {
        location.assign(xhr.responseURL); // the deal's page, as the redirect said
        return;
      }
      // The form with its problems (422), or an error page: show its main part.
      const main = xhr.response && xhr.response.querySelector("#main");
      if (main) {
        document.querySelector("#main").replaceChildren(...main.childNodes);
        return;
      }
      if (button) button.disabled = false;
      if (status) status.textContent = form.dataset.uploadError || String(xhr.status);
    });
    xhr.addEventListener("error", () => {
      if (button) button.disabled = false;
      if (status) status.textContent = form.dataset.uploadError || "";
    });
    xhr.send(new FormData(form));
  }

  document.addEventListener("submit", (e) => {
    const form = e.target;
    if (form instanceof HTMLFormElement && form.hasAttribute("data-upload")) upload(form, e);
  });
})();
