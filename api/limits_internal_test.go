package api

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// The routes without the request time limit are the streaming and long ones, and
// each name in longRoutes is a route of the server: a renamed operation must not
// silently fall under the limit.
func TestExemptRoutes(t *testing.T) {
	db := storetest.Open(t, store.SQLite, store.Options{})
	s := NewServer(Deps{DB: db, Registry: registry.New(db)})
	ids := map[string]string{}
	for path, item := range s.api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op != nil {
				ids[op.OperationID] = op.Method + " " + path
			}
		}
	}
	for _, name := range longRoutes {
		pattern := ids[name]
		if strings.Contains(name, " ") {
			method, path, _ := strings.Cut(name, " ")
			if _, p := s.limiter.mux.Handler(httptest.NewRequest(method, strings.NewReplacer("{id}", "x", "{path...}", "y").Replace(path), nil)); p != name {
				t.Errorf("longRoutes names %q, which is not a route (%q)", name, p)
			}
			pattern = name
		} else if pattern == "" {
			t.Errorf("longRoutes names operation %q, which the server does not have", name)
		}
		if !s.limiter.exempt[pattern] {
			t.Errorf("%s (%s) has the request time limit", name, pattern)
		}
	}
	for _, id := range []string{"upload-attachment", "write-upload-chunk", "put-file", "ingest-batch", "stream-orders", "upload-rule-pack"} {
		if !s.limiter.exempt[ids[id]] {
			t.Errorf("%s (%s) streams or takes a large body, yet has the request time limit", id, ids[id])
		}
	}
	for _, id := range []string{"get-me", "create-participant", "request-deal", "list-denials"} {
		if s.limiter.exempt[ids[id]] {
			t.Errorf("%s (%s) is an ordinary call, yet has no time limit", id, ids[id])
		}
	}
}
