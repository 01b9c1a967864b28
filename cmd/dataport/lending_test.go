package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// serve wires lending: its routes answer (a nil service would panic into a 500),
// and the overdue sweep runs and stops with the server.
func TestServeLending(t *testing.T) {
	r := start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", t.TempDir()}, nil)
	key := regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())
	for _, path := range []string{"/api/v1/offers", "/api/v1/loans", "/api/v1/subscriptions", "/api/v1/consents"} {
		code, body := get(t, r.url+path, key)
		var page struct{ Items []any }
		if code != http.StatusOK || json.Unmarshal(body, &page) != nil || page.Items == nil || len(page.Items) != 0 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	r.stop(t)
	if strings.Contains(r.stderr.String(), "overdue sweep failed") {
		t.Fatalf("the sweep failed:\n%s", r.stderr)
	}
}
