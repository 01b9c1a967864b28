package web_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
)

func init() {
	pageSets["keys"] = func(testing.TB, *exchange) []pageCase {
		return []pageCase{{path: "/keys", status: http.StatusOK}}
	}
}

// signingKey is an Ed25519 key pair of a test, its private key also as a PKCS#8
// PEM file (what a person keeps and chooses in the browser to sign).
type signingKey struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
	id   string // registry.SigningKeyID
	pem  string // the file's path
}

func newSigningKey(t testing.TB) signingKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing-key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return signingKey{pub: pub, priv: priv, id: registry.SigningKeyID(pub), pem: path}
}

// register adds the key to participant's signing keys, as the operator.
func (k signingKey) register(t testing.TB, x *exchange, participantID string) {
	t.Helper()
	if _, err := x.reg.AddSigningKey(context.Background(), x.operator, participantID,
		registry.NewSigningKey{Name: "test key", PublicKey: base64.StdEncoding.EncodeToString(k.pub)}); err != nil {
		t.Fatal(err)
	}
}

// sign is the base64 signature over doc.
func (k signingKey) sign(doc string) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(k.priv, []byte(doc)))
}

func (x *exchange) signingKeys(t testing.TB, participantID string) []registry.SigningKey {
	t.Helper()
	keys, err := x.reg.ListSigningKeys(context.Background(), x.operator, participantID)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

var checkDocument = regexp.MustCompile(`name="document" value="([^"]+)"`)

// TestSigningKeysPage: a participant registers a signing key from the page, a bad
// or repeated public key is answered at its input and registers nothing, the key
// check verifies a signature made with the key (and refuses one that is not), and
// a revoked key no longer verifies.
func TestSigningKeysPage(t *testing.T) {
	x := seeded(t)
	p, token := x.member(t, dataport.RoleBuyer)
	b := x.browser(t)
	b.lang = "en"
	b.signIn(token)
	if page := b.mustPage("/keys", http.StatusOK); !strings.Contains(page.body, "No signing key yet") {
		t.Errorf("a new participant's keys:\n%s", clip(page.body))
	}

	k := newSigningKey(t)
	for _, bad := range []url.Values{
		{"name": {"laptop"}, "public_key": {"not base64!"}},
		{"name": {"laptop"}, "public_key": {base64.StdEncoding.EncodeToString(k.pub[:31])}},
		{"name": {""}, "public_key": {base64.StdEncoding.EncodeToString(k.pub)}},
	} {
		page := b.post("/keys/signing", bad)
		if page.status != http.StatusUnprocessableEntity || !strings.Contains(page.body, `class="problem"`) {
			t.Errorf("%v: %s", bad, describe(page))
		}
		if bad.Get("name") != "" && !strings.Contains(page.body, `value="laptop"`) {
			t.Errorf("%v: the form does not keep what was typed", bad)
		}
		if n := len(x.signingKeys(t, p.ID)); n != 0 {
			t.Fatalf("%v registered a key: %d keys", bad, n)
		}
	}
	good := url.Values{"name": {"laptop"}, "public_key": {base64.StdEncoding.EncodeToString(k.pub)}}
	if page := b.post("/keys/signing", good); page.status != http.StatusSeeOther {
		t.Fatalf("register: %s", describe(page))
	}
	keys := x.signingKeys(t, p.ID)
	if len(keys) != 1 || keys[0].ID != k.id || keys[0].Name != "laptop" {
		t.Fatalf("registered: %+v, want %s", keys, k.id)
	}
	if page := b.post("/keys/signing", good); page.status != http.StatusUnprocessableEntity ||
		!strings.Contains(between(page.body, `id="problems-public_key"`, "</div>"), "already registered") {
		t.Errorf("the same key again: %s", describe(page))
	}

	// The key check: the page's text signed with the key verifies; signed with
	// another key, or another text, it does not.
	listed := b.mustPage("/keys", http.StatusOK)
	m := checkDocument.FindStringSubmatch(listed.body)
	if m == nil {
		t.Fatalf("no check text on the page:\n%s", clip(listed.body))
	}
	doc := html.UnescapeString(m[1])
	if !strings.Contains(listed.body, k.id) {
		t.Errorf("the page does not list the key %s", k.id)
	}
	check := func(keyID, sig, document string) (answer page) {
		return b.post("/keys/signing/check", url.Values{"key_id": {keyID}, "signature": {sig}, "document": {document}})
	}
	if page := check(k.id, k.sign(doc), doc); page.status != http.StatusOK || !strings.Contains(page.body, "verifies with your registered key "+k.id) {
		t.Errorf("a good signature: %s", describe(page))
	}
	other := newSigningKey(t)
	if page := check(k.id, other.sign(doc), doc); page.status != http.StatusUnprocessableEntity ||
		!strings.Contains(between(page.body, `id="problems-check-signature"`, "</div>"), "does not verify") {
		t.Errorf("another key's signature: %s", describe(page))
	}
	if page := check(k.id, k.sign("a contract"), "a contract"); page.status != http.StatusUnprocessableEntity {
		t.Errorf("not the check text: %s", describe(page))
	}
	if page := check(other.id, other.sign(doc), doc); page.status != http.StatusUnprocessableEntity ||
		!strings.Contains(between(page.body, `id="problems-check-key_id"`, "</div>"), "no registered signing key") {
		t.Errorf("an unregistered key: %s", describe(page))
	}

	// Revoked, the key no longer verifies.
	if page := b.post("/keys/signing/"+k.id+"/revoke", url.Values{}); page.status != http.StatusSeeOther {
		t.Fatalf("revoke: %s", describe(page))
	}
	if keys := x.signingKeys(t, p.ID); keys[0].RevokedAt.IsZero() {
		t.Error("the key is not revoked")
	}
	if page := check(k.id, k.sign(doc), doc); page.status != http.StatusUnprocessableEntity || !strings.Contains(page.body, "revoked") {
		t.Errorf("a revoked key: %s", describe(page))
	}
	// Someone else's key cannot be revoked from here: the page revokes the
	// signed-in participant's keys only.
	q, _ := x.member(t, dataport.RoleSupplier)
	theirs := newSigningKey(t)
	theirs.register(t, x, q.ID)
	if page := b.post("/keys/signing/"+theirs.id+"/revoke", url.Values{}); page.status != http.StatusNotFound {
		t.Errorf("revoke another's key: %s", describe(page))
	}
	if keys := x.signingKeys(t, q.ID); !keys[0].RevokedAt.IsZero() {
		t.Error("another participant's key was revoked")
	}
}

var newToken = regexp.MustCompile(`<code class="secret">([^<]+)</code>`)

// TestAPIKeysPage: a participant makes an API key (its token shown once, and it
// signs in), bad input is answered in place and makes no key, and revoking the key
// of the session signs it out.
func TestAPIKeysPage(t *testing.T) {
	x := seeded(t)
	p, token := x.member(t, dataport.RoleSupplier)
	b := x.browser(t)
	b.lang = "en"
	b.signIn(token)
	count := func() int {
		keys, err := x.reg.ListAPIKeys(context.Background(), x.operator, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	before := count()
	for _, bad := range []url.Values{
		{"name": {"ci"}, "expires": {"2020-01-01"}},
		{"name": {"ci"}, "expires": {"next week"}},
		{"name": {"ci"}, "roles": {"operator"}},
		{"name": {""}},
	} {
		page := b.post("/keys/api", bad)
		if page.status != http.StatusUnprocessableEntity || !strings.Contains(page.body, `class="problem"`) {
			t.Errorf("%v: %s", bad, describe(page))
		}
		if n := count(); n != before {
			t.Fatalf("%v made a key", bad)
		}
	}
	page := b.post("/keys/api", url.Values{"name": {"nightly sync"}, "roles": {"supplier"}})
	m := newToken.FindStringSubmatch(page.body)
	if page.status != http.StatusCreated || m == nil {
		t.Fatalf("make a key: %s", describe(page))
	}
	if count() != before+1 {
		t.Fatal("no key was made")
	}
	if again := b.mustPage("/keys", http.StatusOK); newToken.MatchString(again.body) {
		t.Error("the token is shown again")
	}
	other := x.browser(t)
	other.signIn(m[1])

	// Revoking the key the session stands on ends the session.
	self := x.browser(t)
	self.signIn(token)
	if page := self.post("/keys/api/"+keyID(token)+"/revoke", url.Values{}); page.status != http.StatusSeeOther ||
		page.header.Get("Location") != "/login?signout=revoked" {
		t.Fatalf("revoke the session's key: %s", describe(page))
	}
	if page := self.get("/keys"); page.status != http.StatusSeeOther || !strings.HasPrefix(page.header.Get("Location"), "/login") {
		t.Errorf("the session goes on after its key was revoked: %s", describe(page))
	}
	if page := other.get("/keys"); page.status != http.StatusOK {
		t.Errorf("the other key's session ended too: %s", describe(page))
	}
}

// keyID is an API key token's key id: "dp.<key id>.<secret>".
func keyID(token string) string {
	parts := strings.Split(token, ".")
	return parts[1]
}
