// Signing in the browser: a party signs a contract (a deal's, an agency contract)
// with its Ed25519 key over the contract's RFC 8785 canonical JSON, and registers
// new keys, without the private key ever leaving its machine. WebCrypto does the
// cryptography (Ed25519 in crypto.subtle); the page only ever receives the public
// key and the signature.
//
// A signing form: <form data-sign data-sign-ok="…" data-sign-error="…"> holding
// [data-sign-document] (its text is exactly what is signed), an
// input[type=file][data-sign-key] for a PKCS#8 PEM private key, input[name=key_id],
// textarea[name=signature] and [data-sign-status]. Choosing a key file signs the
// document and fills key_id and signature; without JavaScript a person pastes them.
//
// A key form: a button[data-keygen] in a form with input[name=public_key], an
// a[data-keygen-download] and [data-keygen-status]: the button makes a key pair,
// puts the public key in the form and offers the private key as a PEM file to keep.
(() => {
  "use strict";

  const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
  const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const fromB64url = (s) => unb64(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
  const hex = (bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

  // The registry's key id: "ed25519:" and the first 8 bytes of the raw public
  // key's SHA-256, in hex (registry.SigningKeyID).
  async function keyID(rawPublic) {
    const sum = await crypto.subtle.digest("SHA-256", rawPublic);
    return "ed25519:" + hex(sum).slice(0, 16);
  }

  // A PEM file's DER bytes: the base64 between its BEGIN and END lines.
  function pemBody(text, label) {
    const m = text.match(new RegExp("-----BEGIN " + label + "-----([\\s\\S]*?)-----END " + label + "-----"));
    if (!m) throw new Error("not a PEM " + label.toLowerCase() + " file");
    return unb64(m[1].replace(/\s+/g, ""));
  }

  function pem(label, der) {
    const lines = b64(der).match(/.{1,64}/g).join("\n");
    return "-----BEGIN " + label + "-----\n" + lines + "\n-----END " + label + "-----\n";
  }

  function say(el, text, ok) {
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("problem", !ok);
    el.classList.toggle("ok", ok);
  }

  function supported() {
    return window.isSecureContext && window.crypto && crypto.subtle;
  }

  async function sign(form, file) {
    const status = form.querySelector("[data-sign-status]");
    const fail = (err) => say(status, (form.dataset.signError || "") + " " + (err && err.message ? err.message : err), false);
    try {
      if (!supported()) throw new Error("WebCrypto is not available on this page (it needs https or localhost)");
      const doc = form.querySelector("[data-sign-document]");
      if (!doc) throw new Error("no document to sign");
      const der = pemBody(await file.text(), "PRIVATE KEY");
      const key = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]);
      // The public half, for the key id: an extractable private key exports as a
      // JWK whose "x" is the raw public key (RFC 8037).
      const jwk = await crypto.subtle.exportKey("jwk", key);
      const signature = await crypto.subtle.sign({ name: "Ed25519" }, key, new TextEncoder().encode(doc.textContent));
      form.querySelector("[name=key_id]").value = await keyID(fromB64url(jwk.x));
      form.querySelector("[name=signature]").value = b64(signature);
      say(status, form.dataset.signOk || "", true);
    } catch (err) {
      fail(err);
    }
  }

  async function generate(button) {
    const form = button.form;
    const status = form.querySelector("[data-keygen-status]");
    try {
      if (!supported()) throw new Error("WebCrypto is not available on this page (it needs https or localhost)");
      const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
      const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
      const priv = await crypto.subtle.exportKey("pkcs8", pair.privateKey);
      const id = await keyID(raw);
      form.querySelector("[name=public_key]").value = b64(raw);
      const link = form.querySelector("[data-keygen-download]");
      if (link) {
        if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
        link.href = URL.createObjectURL(new Blob([pem("PRIVATE KEY", priv)], { type: "application/x-pem-file" }));
        link.download = id.replace(":", "-") + ".pem";
        link.hidden = false;
      }
      say(status, (button.dataset.keygenOk || "") + " " + id, true);
    } catch (err) {
      say(status, (button.dataset.keygenError || "") + " " + (err && err.message ? err.message : err), false);
    }
  }

  document.addEventListener("change", (e) => {
    const input = e.target;
    if (input.matches && input.matches("input[type=file][data-sign-key]") && input.files.length > 0) {
      const form = input.closest("form[data-sign]");
      if (form) sign(form, input.files[0]);
    }
  });
  document.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("button[data-keygen]");
    if (button) {
      e.preventDefault();
      generate(button);
    }
  });
})();
