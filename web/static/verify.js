// verify.js checks a filing's inclusion proof in the browser, so that a regulator
// need not take the exchange's server at its word: it recomputes the filing's
// leaf hash from its canonical entry, walks the audit path up to a root, compares
// that root with the signed checkpoint's, and verifies the checkpoint's signature
// with the log's public key — all with the browser's own WebCrypto.
//
//   leaf hash:  SHA-256(0x00 || entry)                  RFC 6962 §2.1
//   node hash:  SHA-256(0x01 || left || right)          RFC 6962 §2.1
//   the walk:   RFC 9162 §2.1.3.2 (inclusion proof verification)
//   checkpoint: C2SP tlog-checkpoint (origin, size, base64 root), signed as a
//               C2SP signed note with an Ed25519 key "name+keyhash+base64(0x01||key)",
//               whose key hash is the first 4 bytes of SHA-256(name "\n" 0x01 key).
//
// The data comes from the page's <script type="application/json" id="proof-data">
// block, read when the button is pressed; the words from the page, in its language.
(() => {
  "use strict";
  const box = document.getElementById("verify");
  const dataBlock = document.getElementById("proof-data");
  const button = document.getElementById("verify-button");
  const steps = document.getElementById("steps");
  const outcome = document.getElementById("outcome");
  if (!box || !dataBlock || !button || !steps || !outcome) {
    return;
  }
  button.hidden = false;

  const enc = new TextEncoder();
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const unbase64 = (s) => {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out;
  };
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  };
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));
  const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

  // rootFromPath walks an audit path from leaf index in a tree of size to the
  // root it leads to (RFC 9162 §2.1.3.2); BigInt keeps indexes past 2^31 exact.
  async function rootFromPath(path, index, size, leaf) {
    if (index < 0n || index >= size) {
      throw new Error(`index ${index} is not in a tree of size ${size}`);
    }
    let fn = index;
    let sn = size - 1n;
    let r = leaf;
    for (const p of path) {
      if (p.length !== 32) {
        throw new Error("a path hash is not 32 bytes");
      }
      if (sn === 0n) {
        throw new Error(`the path has ${path.length} hashes, more than the tree needs`);
      }
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) {
      throw new Error(`the path has ${path.length} hashes, fewer than the tree needs`);
    }
    return r;
  }

  // parseCheckpoint splits a signed note into its text and signature lines and
  // reads the checkpoint's origin, size and root from the text.
  function parseCheckpoint(signed) {
    const at = signed.indexOf("\n\n");
    if (at < 0) {
      throw new Error("the checkpoint has no signature lines");
    }
    const text = signed.slice(0, at + 1);
    const lines = text.split("\n");
    if (lines.length < 4 || lines[0] === "") {
      throw new Error("the checkpoint lacks its origin, size and root lines");
    }
    if (!/^(0|[1-9][0-9]*)$/.test(lines[1])) {
      throw new Error(`the checkpoint's size ${lines[1]} is not a number`);
    }
    const root = unbase64(lines[2]);
    if (root.length !== 32) {
      throw new Error("the checkpoint's root is not a SHA-256 hash");
    }
    const sigs = signed.slice(at + 2).split("\n").filter((l) => l !== "");
    return { text, origin: lines[0], size: BigInt(lines[1]), root, sigs };
  }

  // verifySignature checks the note's signature by the verifier key: its name is
  // the checkpoint's origin, its key hash is the key's, and Ed25519 verifies.
  async function verifySignature(cp, vkey) {
    // name+keyhash+key: the name has no "+", the key hash is 8 hex digits, and
    // the key's base64 may itself hold "+".
    const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(vkey.trim());
    if (!m) {
      throw new Error("the verifier key is not name+keyhash+key");
    }
    const [, name, id, key64] = m;
    const key = unbase64(key64);
    if (key.length !== 33 || key[0] !== 1) {
      throw new Error("the verifier key is not an Ed25519 key");
    }
    const keyHash = (await sha256(concat(enc.encode(name + "\n"), key))).slice(0, 4);
    if (hex(keyHash) !== id) {
      throw new Error(`the key hash ${id} is not the key's (${hex(keyHash)})`);
    }
    if (cp.origin !== name) {
      throw new Error(`the checkpoint's origin ${cp.origin} is not the key's name ${name}`);
    }
    const line = cp.sigs.find((l) => l.startsWith("\u2014 " + name + " ") &&
      hex(unbase64(l.slice(name.length + 3)).slice(0, 4)) === id);
    if (!line) {
      throw new Error(`no signature by ${name} ${id}`);
    }
    const sig = unbase64(line.slice(name.length + 3)).slice(4);
    let publicKey;
    try {
      publicKey = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      throw new Error(box.dataset.unsupported + " (" + e.name + ")");
    }
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, publicKey, sig, enc.encode(cp.text)))) {
      throw new Error(`the Ed25519 signature of ${name} does not verify`);
    }
    return `${name} ${id}`;
  }

  function show(step, ok, detail) {
    const li = steps.querySelector(`[data-step="${step}"]`);
    li.dataset.result = ok ? "pass" : "fail";
    li.className = ok ? "pass" : "fail";
    li.querySelector(".step-result").textContent = ok ? box.dataset.pass : box.dataset.fail;
    li.querySelector(".step-detail").textContent = detail;
    return ok;
  }

  async function run() {
    for (const li of steps.querySelectorAll("li")) {
      delete li.dataset.result;
      li.className = "";
      li.querySelector(".step-result").textContent = "";
      li.querySelector(".step-detail").textContent = "";
    }
    steps.hidden = false;
    delete box.dataset.result;
    outcome.textContent = "";
    outcome.className = "outcome";
    if (!window.crypto || !crypto.subtle) {
      // WebCrypto exists only in a secure context (https, or this machine).
      outcome.textContent = box.dataset.unsupported;
      outcome.className = "outcome fail";
      box.dataset.result = "fail";
      return;
    }
    let all = true;
    let data;
    let cp;
    try {
      data = JSON.parse(dataBlock.textContent);
      cp = parseCheckpoint(data.checkpoint);
    } catch (e) {
      show("leaf", false, e.message);
      box.dataset.result = "fail";
      outcome.textContent = box.dataset.bad;
      outcome.className = "outcome fail";
      return;
    }

    let leaf = null;
    try {
      leaf = await leafHash(unbase64(data.entry));
      const ok = hex(leaf) === data.leaf;
      all = show("leaf", ok, ok ? hex(leaf) : `${hex(leaf)} ≠ ${data.leaf}`) && all;
    } catch (e) {
      show("leaf", false, e.message);
      all = false;
    }

    let root = null;
    try {
      if (leaf === null) {
        throw new Error("no leaf hash");
      }
      root = await rootFromPath(data.proof.map(unbase64), BigInt(data.index), cp.size, leaf);
      all = show("path", true, `${data.proof.length} → ${hex(root)}`) && all;
    } catch (e) {
      show("path", false, e.message);
      all = false;
    }

    const rootOK = root !== null && same(root, cp.root);
    all = show("root", rootOK, root === null ? hex(cp.root) : rootOK ? hex(cp.root) : `${hex(root)} ≠ ${hex(cp.root)}`) && all;

    try {
      all = show("signature", true, await verifySignature(cp, data.key)) && all;
    } catch (e) {
      show("signature", false, e.message);
      all = false;
    }

    box.dataset.result = all ? "pass" : "fail";
    outcome.textContent = all ? box.dataset.ok : box.dataset.bad;
    outcome.className = all ? "outcome pass" : "outcome fail";
  }

  button.addEventListener("click", () => {
    button.disabled = true;
    run().finally(() => {
      button.disabled = false;
    });
  });
})();
