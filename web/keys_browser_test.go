package web_test

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
)

// TestSigningKeysInBrowser: in Chromium, a participant makes a key pair in the
// browser (WebCrypto, static/sign.js), keeps its private key as the PEM file the
// page offers, and registers the public key; the exchange holds the key the file's
// private half belongs to. Then it chooses that file in the key check: the browser
// signs the check text and the exchange verifies the signature — the path every
// contract signature takes. A file of another key is refused at the signature.
func TestSigningKeysInBrowser(t *testing.T) {
	x := seeded(t)
	p, token := x.member(t, dataport.RoleBuyer)
	cr := startChrome(t, x)
	tab, step, until, shoot := cr.tab, cr.step, cr.until, cr.shoot

	step("sign in", chromedp.Navigate(x.srv.URL+"/login"), chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), token), chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)))
	until("signed in", `location.pathname !== "/login"`)
	step("the keys page", chromedp.Navigate(x.srv.URL+"/keys"), chromedp.WaitVisible(chromedp.ID("keygen")))
	shoot("keys-en")

	// Make a key pair: the public key goes into the form, the private key is
	// offered as a file to keep.
	step("make a key pair", chromedp.SendKeys(chromedp.ID("signing-name"), "browser key"), chromedp.Click(chromedp.ID("keygen")))
	until("the key pair", `document.querySelector("[name=public_key]").value.length === 44 &&
		document.querySelector("#keygen-download").href.startsWith("blob:") && !document.querySelector("#keygen-download").hidden &&
		document.querySelector("#keygen-status").classList.contains("ok")`)
	public, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("[name=public_key]").value`))
	if err != nil {
		t.Fatal(err)
	}
	// What the person saves: the file behind the download link.
	keyFile := string(cr.download("save the private key", chromedp.Click(chromedp.ID("keygen-download"))))
	block, _ := pem.Decode([]byte(keyFile))
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("the private key file is not a PKCS#8 PEM:\n%s", keyFile)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv, ok := parsed.(ed25519.PrivateKey)
	if !ok || base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)) != public {
		t.Fatalf("the private key file is not the public key's pair (%T)", parsed)
	}
	shoot("keys-keygen-en")
	step("register it", chromedp.Click(chromedp.CSS(`#add-signing button[type=submit]`)))
	until("the key registered", `document.querySelectorAll(".signing-keys tbody tr").length === 1`)
	keys := x.signingKeys(t, p.ID)
	if len(keys) != 1 || keys[0].PublicKey != public || keys[0].ID != registry.SigningKeyID(priv.Public().(ed25519.PublicKey)) {
		t.Fatalf("registered %+v, want the browser's public key %s", keys, public)
	}

	// Check the file: the browser signs, the exchange verifies.
	path := filepath.Join(t.TempDir(), "browser-key.pem")
	if err := os.WriteFile(path, []byte(keyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	step("choose the key file", chromedp.SetUploadFiles(chromedp.ID("sign-key"), []string{path}))
	until("signed in the browser", `document.querySelector("#check-signature").value.length === 88 &&
		document.querySelector("#check-key_id").value === `+jsString(keys[0].ID))
	step("check", chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)))
	until("verified", `document.querySelector("#checked") !== null`)
	shoot("keys-checked-en")

	// Another key's file signs too, but the exchange does not know that key.
	other := newSigningKey(t)
	step("choose another key file", chromedp.Navigate(x.srv.URL+"/keys"), chromedp.WaitVisible(chromedp.ID("sign-key")),
		chromedp.SetUploadFiles(chromedp.ID("sign-key"), []string{other.pem}))
	until("signed with the other key", `document.querySelector("#check-key_id").value === `+jsString(other.id))
	step("check it", chromedp.Click(chromedp.CSS(`#check-form button[type=submit]`)))
	until("refused at the key", `document.querySelector("#problems-check-key_id .problem") !== null && document.querySelector("#checked") === null`)

	// A file that is not a key: the page says so, nothing is filled in.
	junk := filepath.Join(t.TempDir(), "notes.pem")
	if err := os.WriteFile(junk, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	step("choose a file that is no key", chromedp.Navigate(x.srv.URL+"/keys"), chromedp.WaitVisible(chromedp.ID("sign-key")),
		chromedp.SetUploadFiles(chromedp.ID("sign-key"), []string{junk}))
	until("the file refused", `document.querySelector("#check-status").classList.contains("problem") && document.querySelector("#check-signature").value === ""`)

	step("switch to Chinese", chromedp.Click(chromedp.CSS(`.langs a[data-lang="zh"]`)))
	until("the keys page in Chinese", `document.documentElement.lang === "zh-CN" && location.pathname === "/keys"`)
	shoot("keys-zh")
	cr.finish(10)
}

// jsString quotes s for a JavaScript condition.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
