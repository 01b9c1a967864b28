// Package web is the exchange's web console: the pages people use instead of the
// API, in Chinese and English, served beside the REST API at /.
//
// Pages are html/template files rendered on the server, with htmx (vendored from
// npm into static/htmx, embedded) where it makes a page better — search as you
// type, paging, forms answered in place — and every page also works as plain HTML
// without JavaScript. Nothing is fetched from outside the server: styles, script
// and fonts are the console's own or the browser's.
//
// A page is a handler and a template. The handler is a func(*Request) error that
// calls the capabilities' services as the signed-in actor (the services check
// roles and tenancy, as they do for the API) and renders its template with
// Request.Render; the console gives it the layout, the session, the language, CSRF
// protection, error pages and inline form errors (Form). routes.go lists every
// page, nav.go the navigation by role.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/delivery"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/harvest"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/lending"
	"github.com/dataport/dataport/mirror"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/trade"
)

// Deps are the capabilities the console's pages call, the same services the REST
// API calls: a page acts as its signed-in actor through them.
type Deps struct {
	// DB keeps the console's sessions (web_sessions) and tells the time.
	DB         *store.DB
	Registry   *registry.Service
	Catalog    *catalog.Service
	Compliance *compliance.Service
	Logger     *slog.Logger
	// SessionTTL is how long a session lasts at most; 12 hours when zero. A
	// session also ends with its API key's expiry.
	SessionTTL time.Duration

	// Finance, Credit and Lending serve the merchant's dashboard and the
	// financial institution's page.
	Finance *finance.Service
	Credit  *credit.Service
	Lending *lending.Service

	// Trade and Delivery serve the deals' pages (suppliers', agents' and buyers'):
	// demands, quotes, negotiations, contracts, downloads, certificates, revenue.
	Trade    *trade.Service
	Delivery *delivery.Service
	// Harvest and Mirror serve the operator's sources, runs and mirror upstreams.
	Harvest *harvest.Service
	Mirror  *mirror.Service
	// Filings and Log serve the regulator's trace: each filing with its inclusion
	// proof, and the log's latest checkpoint.
	Filings *ledger.Reader
	Log     *ledger.Log
}

// Console is the web console: an http.Handler for the console's own paths.
type Console struct {
	deps      Deps
	log       *slog.Logger
	mux       *http.ServeMux
	msgs      map[Lang]catalogue
	templates map[Lang]map[string]*template.Template // by language, by page
	assets    map[string]string                      // static file → its URL with a content hash
	static    http.Handler
	csrf      *http.CrossOriginProtection
	pages     []string // the patterns of the pages, in the order routes.go adds them
	guard     signInGuard

	nameMu  sync.Mutex
	name    dataport.Bilingual // the exchange's name: its operator's legal name
	nameAt  time.Time
	nameErr error
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// New returns the console over deps. It panics when its embedded templates or
// message catalogues do not load: they are part of the binary, and the tests
// load them.
func New(deps Deps) *Console {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.SessionTTL <= 0 {
		deps.SessionTTL = 12 * time.Hour
	}
	c := &Console{deps: deps, log: deps.Logger, mux: http.NewServeMux(), csrf: http.NewCrossOriginProtection()}
	var err error
	if c.msgs, err = loadCatalogues(); err != nil {
		panic("web: " + err.Error())
	}
	if err := c.loadAssets(); err != nil {
		panic("web: " + err.Error())
	}
	if err := c.loadTemplates(); err != nil {
		panic("web: " + err.Error())
	}
	c.routes()
	return c
}

// ServeHTTP serves the console's pages; any other path is not found.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

// Serves reports whether a request is for one of the console's pages, so that a
// server can put the console in front of the API: the console's paths go to it,
// everything else to the API.
func (c *Console) Serves(r *http.Request) bool {
	_, pattern := c.mux.Handler(r)
	return pattern != ""
}

// access says who may open a page.
type access int

const (
	anyone   access = iota // signed in or not: sign-in, the language switch
	signedIn               // anyone signed in; the services decide the rest
)

// Request is one request to a page, as its handler sees it.
type Request struct {
	*http.Request
	*Localizer
	W http.ResponseWriter
	// Session is the signed-in person's session; nil on a page anyone may open
	// when no one is signed in.
	Session *Session
	// Actor is who the page acts as (the zero Actor when signed out).
	Actor dataport.Actor

	c       *Console
	page    string
	csrf    string
	partial bool
}

// page adds a page: pattern as for http.ServeMux, who may open it, and its handler.
// Roles, when given, are the roles of which the actor must hold one (the services
// check again; this makes the console answer with its 403 page and keeps the
// navigation honest).
func (c *Console) page(pattern string, who access, handle func(*Request) error, roles ...dataport.Role) {
	c.pages = append(c.pages, pattern)
	c.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.serve(w, r, who, roles, handle)
	}))
}

// maxFormBytes bounds a form's body; a multipart upload may add maxUpload.
const maxFormBytes = 1 << 20

// bodyLimit is how much of a request's body the console reads.
func bodyLimit(r *http.Request) int64 {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return maxUpload + maxFormBytes
	}
	return maxFormBytes
}

// readForm reads a request's form, within its bound, and says why it could not.
func readForm(r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return r.ParseMultipartForm(32 << 20)
	}
	return r.ParseForm()
}

func (c *Console) serve(w http.ResponseWriter, r *http.Request, who access, roles []dataport.Role, handle func(*Request) error) {
	h := w.Header()
	// The pages hold what only the signed-in participant may see: never cached,
	// never framed, and nothing but the server's own scripts and styles.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Add("Vary", "Cookie, HX-Request, HX-Target")

	q := &Request{Request: r, W: w, c: c, Localizer: c.localizer(chooseLang(r))}
	s, err := c.session(r)
	if err != nil {
		var out *signedOut
		if errors.As(err, &out) {
			setCookie(w, r, sessionCookie, "", time.Time{}, false)
			if who == anyone {
				err = nil // the sign-in page shows why; the language switch needs no one
				if r.URL.Path == "/login" && r.URL.Query().Get("signout") == "" && out.reason != signOutUnknown {
					q.Redirect("/login?signout=" + string(out.reason))
					return
				}
			}
		}
		if err != nil {
			q.fail(err)
			return
		}
	}
	if s != nil {
		q.Session, q.Actor = s, s.Actor
	}
	if who == signedIn && s == nil {
		q.fail(&signedOut{})
		return
	}
	if changes(r.Method) {
		// The body is bounded before anything reads it: the CSRF check reads the
		// form, a multipart upload's file included.
		r.Body = http.MaxBytesReader(w, r.Body, bodyLimit(r))
		if tooBig := (*http.MaxBytesError)(nil); errors.As(readForm(r), &tooBig) {
			q.fail(dataport.Errorf("web."+r.Pattern, dataport.KindTooLarge, "the form is larger than %d bytes", tooBig.Limit))
			return
		}
		if err := c.csrf.Check(r); err != nil || !csrfValid(r, s) {
			q.fail(errCSRF)
			return
		}
	}
	if len(roles) > 0 && !q.Actor.Has(roles...) {
		q.fail(dataport.Errorf("web."+r.Pattern, dataport.KindForbidden, "this page is for %v", roles))
		return
	}
	q.csrf = maskToken(csrfSecret(w, r, s))
	q.partial = r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-History-Restore-Request") != "true"
	if err := handle(q); err != nil {
		q.fail(err)
	}
}

var errCSRF = dataport.Errorf("web", dataport.KindForbidden, "the form's CSRF token is missing or not this visitor's")

func (c *Console) localizer(l Lang) *Localizer {
	return &Localizer{Lang: l, msgs: c.msgs[l], log: c.log}
}

// Form returns the submitted form: the query of a GET, the body of a POST.
func (q *Request) Form() *Form {
	if q.Method == http.MethodGet || q.Method == http.MethodHead {
		return NewForm(q.URL.Query())
	}
	q.ParseForm()
	return NewForm(q.PostForm)
}

// Redirect sends the browser to a path of the console after a change (303, so the
// next request is a GET); an htmx request is told to load the page whole.
func (q *Request) Redirect(to string) {
	if q.Header.Get("HX-Request") == "true" {
		q.W.Header().Set("HX-Redirect", to)
		q.W.WriteHeader(http.StatusOK)
		return
	}
	http.Redirect(q.W, q.Request, to, http.StatusSeeOther)
}

// View is what every template gets as its dot.
type View struct {
	Page     string // the page's template name
	Lang     Lang
	Exchange string // the exchange's name in the page's language
	Session  *Session
	Nav      []navLink
	Langs    []langLink
	CSRF     string // this response's CSRF token, for forms (the "csrf" template)
	Path     string // this page's path and query, for links back to it
	Partial  bool   // rendering a region for htmx, not the whole page
	Data     any    // the page's own data
}

type langLink struct {
	Lang    Lang
	Name    string
	URL     string
	Current bool
}

// Render answers with a page. For an htmx request that targets a region the page
// defines as a template named "#<id>" (htmx sends the target's id as HX-Target),
// only that region is rendered; otherwise the whole page in the layout. The page is
// rendered into memory first, so a template error is a 500, not half a page.
func (q *Request) Render(status int, page string, data any) error {
	t := q.c.templates[q.Lang][page]
	if t == nil {
		return dataport.Internal("web.Render", errors.New("no page template "+page))
	}
	q.page = page
	name := "layout"
	if target := q.Header.Get("HX-Target"); q.partial && target != "" && t.Lookup("#"+target) != nil {
		name = "#" + target
	} else {
		q.partial = false
	}
	v := q.view(page, data)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, v); err != nil {
		return dataport.Internal("web.Render", err)
	}
	q.W.Header().Set("Content-Type", "text/html; charset=utf-8")
	q.W.Header().Set("Content-Language", q.Lang.Tag())
	q.W.WriteHeader(status)
	_, err := buf.WriteTo(q.W)
	if err != nil {
		q.c.log.Debug("console: writing a page", "page", page, "error", err)
	}
	return nil
}

func (q *Request) view(page string, data any) *View {
	v := &View{Page: page, Lang: q.Lang, Session: q.Session, CSRF: q.csrf, Path: q.URL.RequestURI(), Partial: q.partial, Data: data}
	v.Exchange = q.Text(q.c.exchangeName(q.Context()))
	if v.Exchange == "" {
		v.Exchange = q.T("layout.exchange")
	}
	v.Nav = navFor(q.Actor, q.URL.Path)
	for _, l := range Langs {
		v.Langs = append(v.Langs, langLink{Lang: l, Name: q.c.msgs[l]["lang.name"], Current: l == q.Lang,
			URL: "/lang/" + string(l) + "?next=" + url.QueryEscape(v.Path)})
	}
	return v
}

// exchangeName is the exchange operator's legal name, read from the registry at
// most once a minute: the header shows it on every page.
func (c *Console) exchangeName(ctx context.Context) dataport.Bilingual {
	c.nameMu.Lock()
	defer c.nameMu.Unlock()
	now := c.deps.DB.Clock().Now()
	if !c.nameAt.IsZero() && now.Sub(c.nameAt) < time.Minute && now.After(c.nameAt) {
		return c.name
	}
	id, err := c.deps.Registry.Operator(ctx)
	if err == nil {
		// The exchange's own name is public: read as the exchange itself.
		var p registry.Participant
		if p, err = c.deps.Registry.GetParticipant(ctx, dataport.System, id); err == nil {
			c.name = p.LegalName
		}
	}
	if err != nil {
		c.log.Warn("console: reading the exchange's name", "error", err)
	}
	c.nameAt = now
	return c.name
}

// fail answers a request with the page its error calls for: the sign-in page for
// one signed out, an error page for the rest. Internal errors are logged and
// explained to no one.
func (q *Request) fail(err error) {
	var out *signedOut
	if errors.As(err, &out) {
		to := "/login"
		v := url.Values{}
		if out.reason != "" && out.reason != signOutUnknown {
			v.Set("signout", string(out.reason))
		}
		if q.Method == http.MethodGet && q.URL.Path != "/" {
			v.Set("next", q.URL.RequestURI())
		}
		if len(v) > 0 {
			to += "?" + v.Encode()
		}
		q.Redirect(to)
		return
	}
	kind := dataport.KindOf(err)
	status := map[dataport.Kind]int{
		dataport.KindInvalid: http.StatusBadRequest, dataport.KindNotFound: http.StatusNotFound,
		dataport.KindConflict: http.StatusConflict, dataport.KindUnauthorized: http.StatusUnauthorized,
		dataport.KindForbidden: http.StatusForbidden, dataport.KindUnavailable: http.StatusServiceUnavailable,
		dataport.KindTooLarge: http.StatusRequestEntityTooLarge,
	}[kind]
	if status == 0 {
		status = http.StatusInternalServerError
		q.c.log.Error("console: page failed", "method", q.Method, "path", q.URL.Path, "participant", q.Actor.ParticipantID, "error", err)
	}
	e := errorPage{Status: status, Kind: kind.String(), CSRF: errors.Is(err, errCSRF)}
	if kind != dataport.KindInternal {
		e.Message = dataport.MessageOf(err)
		for _, p := range dataport.FieldsOf(err) {
			e.Problems = append(e.Problems, p.Field+": "+p.Message)
		}
	}
	if q.partial {
		// htmx swaps the error into the page's main region, whatever it targeted.
		q.W.Header().Set("HX-Retarget", "#main")
		q.W.Header().Set("HX-Reswap", "innerHTML")
		q.Header.Set("HX-Target", "main")
	}
	if rerr := q.Render(status, "error", e); rerr != nil {
		q.c.log.Error("console: rendering the error page", "error", rerr)
		http.Error(q.W, http.StatusText(status), status)
	}
}

// errorPage is the error template's data.
type errorPage struct {
	Status   int
	Kind     string
	Message  string
	Problems []string
	CSRF     bool // the request was refused for its CSRF token
}

// localPath returns next when it is a path of this server (so that a sign-in
// cannot be made to send the browser elsewhere), else fallback.
func localPath(next, fallback string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return fallback
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return fallback
	}
	return next
}

// loadAssets hashes the static files, so that their URLs change with their
// content and browsers may keep them for a year.
func (c *Console) loadAssets() error {
	c.assets = map[string]string{}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		c.assets[name] = "/static/" + name + "?v=" + hex.EncodeToString(sum[:6])
		return nil
	})
	files := http.FileServerFS(staticFiles)
	c.static = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no directory listings
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		files.ServeHTTP(w, r)
	})
	return err
}

// favicon answers the browsers that ask for /favicon.ico whatever the page says.
func (c *Console) favicon(w http.ResponseWriter, r *http.Request) {
	b, err := staticFiles.ReadFile("static/icon.svg")
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write(b)
}

// asset is the template function that names a static file by its hashed URL.
func (c *Console) asset(name string) (string, error) {
	u, ok := c.assets[path.Clean(name)]
	if !ok {
		return "", errors.New("no static file " + name)
	}
	return u, nil
}
