package web

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// The participant's keys: its Ed25519 signing keys, with which it signs contracts
// (deals' and agency contracts, over their RFC 8785 canonical JSON), and its API
// keys, with which its systems call the API and its people sign in here. A signing
// key is made in the browser (static/sign.js: WebCrypto makes the pair, the page
// gets the public key and the person keeps the private key as a PEM file) or made
// elsewhere and its public key pasted. An API key's token is shown once, when it is
// made: only its hash is kept (registry). Every change is filed by the registry.

func (c *Console) keyRoutes() {
	c.page("GET /keys", signedIn, c.keys)
	c.page("POST /keys/signing", signedIn, c.addSigningKey)
	c.page("POST /keys/signing/{id}/revoke", signedIn, c.revokeSigningKey)
	c.page("POST /keys/signing/check", signedIn, c.checkSigningKey)
	c.page("POST /keys/api", signedIn, c.createAPIKey)
	c.page("POST /keys/api/{id}/revoke", signedIn, c.revokeAPIKey)
}

// keysPage is the keys template's data.
type keysPage struct {
	Signing []registry.SigningKey
	API     []registry.APIKey
	Roles   []dataport.Role // the participant's roles, which a new API key may take
	Now     time.Time
	// The forms, with what was typed and its problems.
	SigningForm *Form
	APIForm     *Form
	CheckForm   *Form
	// Check is the text a key check signs; Checked says the check just passed,
	// with the key that passed it.
	Check   string
	Checked string
	// Token is a new API key's token, shown this once.
	Token    string
	TokenFor string
}

var signingKeyFields = Fields{
	"name":       {Input: "signing-name"},
	"public_key": {Input: "public_key", Message: "keys.signing.error.public_key"},
}

var apiKeyFields = Fields{
	"name":       {Input: "api-name"},
	"roles":      {Input: "roles"},
	"expires_at": {Input: "expires", Message: "keys.api.error.expires"},
}

func (c *Console) keys(q *Request) error {
	return c.keysPage(q, http.StatusOK, keysPage{})
}

// keysPage renders the keys as they stand, with d's forms and token.
func (c *Console) keysPage(q *Request, status int, d keysPage) error {
	ctx, me := q.Context(), q.Actor.ParticipantID
	var err error
	if d.Signing, err = c.deps.Registry.ListSigningKeys(ctx, q.Actor, me); err != nil {
		return err
	}
	if d.API, err = c.deps.Registry.ListAPIKeys(ctx, q.Actor, me); err != nil {
		return err
	}
	slices.Reverse(d.API) // newest first, as the signing keys are not: those are few
	d.Roles, d.Now = q.Session.Participant.Roles, c.deps.DB.Clock().Now()
	if d.SigningForm == nil {
		d.SigningForm = NewForm(nil)
	}
	if d.APIForm == nil {
		d.APIForm = NewForm(nil)
	}
	if d.CheckForm == nil {
		d.CheckForm = NewForm(nil)
	}
	d.Check = checkText(q.Actor.ParticipantID, d.Now)
	return q.Render(status, "keys", d)
}

func (c *Console) addSigningKey(q *Request) error {
	f := q.Form()
	_, err := c.deps.Registry.AddSigningKey(q.Context(), q.Actor, q.Actor.ParticipantID,
		registry.NewSigningKey{Name: f.Get("name"), PublicKey: f.Get("public_key")})
	if absorbed := f.Absorb(err, q.Localizer, signingKeyFields) || absorbConflict(f, err, "public_key", q.T("keys.signing.error.registered")); absorbed {
		return c.keysPage(q, http.StatusUnprocessableEntity, keysPage{SigningForm: f})
	}
	if err != nil {
		return err
	}
	q.Redirect("/keys#signing")
	return nil
}

func (c *Console) revokeSigningKey(q *Request) error {
	if _, err := c.deps.Registry.RevokeSigningKey(q.Context(), q.Actor, q.Actor.ParticipantID, q.PathValue("id")); err != nil {
		return err
	}
	q.Redirect("/keys#signing")
	return nil
}

// checkPrefix starts the text a key check signs: a check is never a contract.
const checkPrefix = "dataport signing key check"

func checkText(participantID string, now time.Time) string {
	return checkPrefix + " · " + participantID + " · " + now.UTC().Format(time.RFC3339)
}

var checkFields = Fields{"key_id": {Input: "check-key_id"}, "signature": {Input: "check-signature"}}

// checkSigningKey verifies a signature made with a key file over the check text,
// as a contract's signature is verified (registry.VerifySignature): a person sees
// that its file is the registered key before it signs a contract with it. Nothing
// is stored or filed.
func (c *Console) checkSigningKey(q *Request) error {
	f := q.Form()
	doc := f.Values.Get("document")
	var err error
	switch sig, decodeErr := base64.StdEncoding.DecodeString(f.Get("signature")); {
	case !strings.HasPrefix(doc, checkPrefix+" · "+q.Actor.ParticipantID+" · "):
		err = dataport.Invalid("web.checkSigningKey", dataport.FieldProblem{Field: "document", Message: "not this page's check text"})
	case decodeErr != nil || f.Get("signature") == "":
		err = dataport.Invalid("web.checkSigningKey", dataport.FieldProblem{Field: "signature", Message: "base64 of a 64-byte Ed25519 signature"})
	default:
		err = c.deps.DB.Read(q.Context(), func(tx *store.Tx) error {
			return registry.VerifySignature(tx, q.Actor.ParticipantID, f.Get("key_id"), []byte(doc), sig)
		})
	}
	if f.Absorb(err, q.Localizer, checkFields) {
		return c.keysPage(q, http.StatusUnprocessableEntity, keysPage{CheckForm: f})
	}
	if err != nil {
		return err
	}
	return c.keysPage(q, http.StatusOK, keysPage{Checked: f.Get("key_id")})
}

func (c *Console) createAPIKey(q *Request) error {
	f := q.Form()
	n := registry.NewAPIKey{Name: f.Get("name")}
	for _, r := range f.Values["roles"] {
		n.Roles = append(n.Roles, dataport.Role(r))
	}
	if s := f.Get("expires"); s != "" {
		// A date: the key works to the end of that day, in the exchange's time zone
		// as the pages show dates.
		day, err := time.ParseInLocation(time.DateOnly, s, dataport.China)
		if err != nil {
			f.Fail("expires", q.T("keys.api.error.expires"))
			return c.keysPage(q, http.StatusUnprocessableEntity, keysPage{APIForm: f})
		}
		n.ExpiresAt = day.AddDate(0, 0, 1)
	}
	k, token, err := c.deps.Registry.CreateAPIKey(q.Context(), q.Actor, q.Actor.ParticipantID, n)
	if f.Absorb(err, q.Localizer, apiKeyFields) {
		return c.keysPage(q, http.StatusUnprocessableEntity, keysPage{APIForm: f})
	}
	if err != nil {
		return err
	}
	// The token is shown on this answer only: no redirect, and the page is never
	// cached (Cache-Control: no-store on every page).
	return c.keysPage(q, http.StatusCreated, keysPage{Token: token, TokenFor: k.Name})
}

func (c *Console) revokeAPIKey(q *Request) error {
	id := q.PathValue("id")
	if _, err := c.deps.Registry.RevokeAPIKey(q.Context(), q.Actor, q.Actor.ParticipantID, id); err != nil {
		return err
	}
	if id == q.Actor.KeyID {
		// The session stood on that key: it has ended with it.
		q.Redirect("/login?signout=revoked")
		return nil
	}
	q.Redirect("/keys#api")
	return nil
}

// absorbConflict takes a conflict the service names a field for (a key already
// registered) into the form at input, in message; it reports whether it did.
func absorbConflict(f *Form, err error, input, message string) bool {
	if err == nil || dataport.KindOf(err) != dataport.KindConflict {
		return false
	}
	for _, p := range dataport.FieldsOf(err) {
		if p.Field == input || strings.HasPrefix(p.Field, input+".") {
			f.Fail(input, message)
			return true
		}
	}
	return false
}
