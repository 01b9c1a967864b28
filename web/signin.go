package web

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/dataport/dataport"
)

// home sends a visitor to the catalog, or to the sign-in page first.
func (c *Console) home(q *Request) error {
	if q.Session == nil {
		q.Redirect("/login")
		return nil
	}
	q.Redirect(landing(q.Actor))
	return nil
}

// landing is where a signed-in participant starts: its own work when its role has
// pages of it (a merchant its dashboard, a financial institution its portfolio, a
// supplier or agent its products, the operator its overview, a regulator the
// log), the catalog otherwise (a buyer starts by finding data).
func landing(actor dataport.Actor) string {
	switch {
	case actor.Has(dataport.RoleOperator):
		return "/operator"
	case actor.Has(dataport.RoleRegulator):
		return "/regulator"
	case actor.Has(dataport.RoleMerchant):
		return "/merchant"
	case actor.Has(dataport.RoleFinancialInstitution):
		return "/institution"
	case actor.Has(dataport.RoleSupplier, dataport.RoleAgent):
		return "/supplier"
	}
	return "/catalog"
}

// signInData is the sign-in page's data.
type signInData struct {
	Form *Form
	// SignedOut says why the last session ended, when it did not end by signing out.
	SignedOut string
}

func (c *Console) signInPage(q *Request) error {
	if q.Session != nil {
		q.Redirect(localPath(q.URL.Query().Get("next"), landing(q.Actor)))
		return nil
	}
	d := signInData{Form: NewForm(nil)}
	d.Form.Values.Set("next", localPath(q.URL.Query().Get("next"), ""))
	if reason := q.URL.Query().Get("signout"); reason != "" {
		if _, ok := parseSignOut(reason); ok {
			d.SignedOut = reason
		}
	}
	return q.Render(http.StatusOK, "login", d)
}

func parseSignOut(s string) (signOutReason, bool) {
	for _, r := range enums["signout"] {
		if r == s {
			return signOutReason(s), true
		}
	}
	return "", false
}

// signIn checks the API key typed into the form with the registry and starts a
// session. A wrong key, a revoked or expired one, or a suspended participant is
// answered at the key's input, and no session is made.
func (c *Console) signIn(q *Request) error {
	f := q.Form()
	key := f.Get("key")
	if key == "" {
		f.Fail("key", q.T("signin.error.required"))
		return q.Render(http.StatusUnprocessableEntity, "login", signInData{Form: f})
	}
	if c.guard.wait != nil {
		if wait := c.guard.wait(q.Request, key); wait > 0 {
			// Too many failed sign-ins from this address: the key is not even checked
			// (RFC 9110 §10.2.3: Retry-After in whole seconds).
			secs := int(math.Ceil(wait.Seconds()))
			q.W.Header().Set("Retry-After", strconv.Itoa(secs))
			f.Values.Del("key")
			f.Fail("key", q.T("signin.error.wait", secs))
			return q.Render(http.StatusTooManyRequests, "login", signInData{Form: f})
		}
	}
	token, s, err := c.startSession(q.Context(), key)
	if c.guard.done != nil {
		// A suspended participant's key is a right key: only a wrong one counts.
		c.guard.done(q.Request, key, dataport.KindOf(err) != dataport.KindUnauthorized || err == nil)
	}
	switch dataport.KindOf(err) {
	case dataport.KindUnauthorized:
		f.Fail("key", q.T("signin.error.key"))
	case dataport.KindForbidden:
		f.Fail("key", q.T("signin.error.suspended"))
	}
	// Whatever was typed is a secret: it is never sent back in the form.
	f.Values.Del("key")
	if f.Invalid() {
		return q.Render(http.StatusUnprocessableEntity, "login", signInData{Form: f})
	}
	if err != nil {
		return err
	}
	setCookie(q.W, q.Request, sessionCookie, token, s.ExpiresAt, false)
	q.Redirect(localPath(f.Get("next"), landing(s.Actor)))
	return nil
}

// signInGuard slows the guessing of API keys at the sign-in form: wait says how
// long the visitor must wait before its key is checked, done counts the outcome.
// The API server the console is served by sets it (api.NewServer), so that a
// client's failures at the form and with the API are counted together.
type signInGuard struct {
	wait func(r *http.Request, key string) time.Duration
	done func(r *http.Request, key string, ok bool)
}

// GuardSignIn sets the sign-in form's guard; call it before serving.
func (c *Console) GuardSignIn(wait func(*http.Request, string) time.Duration, done func(*http.Request, string, bool)) {
	c.guard = signInGuard{wait: wait, done: done}
}

// signOut ends the session.
func (c *Console) signOut(q *Request) error {
	c.endSession(q.Context(), q.Session)
	setCookie(q.W, q.Request, sessionCookie, "", time.Time{}, false)
	q.Redirect("/login")
	return nil
}

// switchLang remembers the language chosen with the switch, for a year, and goes
// back to the page it was chosen on. It is a link, not a form, so that it works
// everywhere without script; it changes nothing but the visitor's own cookie.
func (c *Console) switchLang(q *Request) error {
	l, ok := parseLang(q.PathValue("lang"))
	if !ok {
		return dataport.Errorf("web.switchLang", dataport.KindNotFound, "no language %q", q.PathValue("lang"))
	}
	expires := c.deps.DB.Clock().Now().AddDate(1, 0, 0)
	setCookie(q.W, q.Request, langCookie, string(l), expires, false)
	to := localPath(q.URL.Query().Get("next"), "/")
	if q.Header.Get("HX-Request") == "true" {
		q.W.Header().Set("HX-Redirect", to)
		return nil
	}
	http.Redirect(q.W, q.Request, to, http.StatusSeeOther)
	return nil
}
