package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/dataport/dataport/store"
	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"
)

// TestOpenAPIDocumentIsValid validates /openapi.json against the OpenAPI 3.1 schema.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	x := newExchange(t, store.SQLite)
	r := x.do("GET", "/openapi.json", "", nil)
	wantStatus(t, r, http.StatusOK)
	m := r.json(t)
	if m["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v, want 3.1.0", m["openapi"])
	}
	doc, err := libopenapi.NewDocument(r.body)
	if err != nil {
		t.Fatal(err)
	}
	valid, errs := schema_validation.ValidateOpenAPIDocument(doc)
	for _, e := range errs {
		t.Errorf("%s: %s", e.Message, e.Reason)
		for _, v := range e.SchemaValidationErrors {
			t.Errorf("  %s at %s", v.Reason, v.FieldPath)
		}
	}
	if !valid {
		t.Fatal("/openapi.json is not a valid OpenAPI 3.1 document")
	}
	// Every API route is documented, with the bearer scheme.
	paths := m["paths"].(map[string]any)
	for _, p := range []string{"/api/v1/participants", "/api/v1/participants/{id}/suspend", "/api/v1/filings/{seq}", "/healthz"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("%s is not documented", p)
		}
	}
	if !strings.Contains(string(r.body), `"bearer"`) {
		t.Error("no bearer security scheme")
	}
}

// TestDocsAreServedFromEmbeddedFiles checks that /docs loads nothing from elsewhere:
// every script, style sheet and image it names is served by dataport itself.
func TestDocsAreServedFromEmbeddedFiles(t *testing.T) {
	x := newExchange(t, store.SQLite)
	r := x.do("GET", "/docs", "", nil)
	wantStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("CSP %q lets the page load from elsewhere", csp)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(r.body), -1)
	if len(refs) < 3 {
		t.Fatalf("docs page names %d assets", len(refs))
	}
	for _, ref := range refs {
		u := ref[1]
		if !strings.HasPrefix(u, "/docs/assets/") {
			t.Errorf("docs page loads %s from outside", u)
			continue
		}
		a := x.do("GET", u, "", nil)
		if a.status != http.StatusOK || len(a.body) == 0 {
			t.Errorf("%s: %d", u, a.status)
		}
	}
	init := x.do("GET", "/docs/assets/init.js", "", nil)
	if !strings.Contains(string(init.body), `"/openapi.json"`) || !strings.Contains(string(init.body), "validatorUrl: null") {
		t.Fatalf("init.js: %s", init.body)
	}
}
