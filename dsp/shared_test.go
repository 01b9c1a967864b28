package dsp_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/dataport/dataport/internal/testenv"
)

// sharedDir is the specification's release as the project's shared test data
// holds it (schemas, contexts, examples, the TCK's scenario list), relative to
// this package: ../shared beside the module root.
const sharedDir = "../../shared/data/dataspace-protocol-2025-1"

func needShared(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat(filepath.Join(sharedDir, "TCK-SCENARIOS.txt")); err != nil {
		testenv.Missing(tb, "the DSP 2025-1 release is not in the shared test data at %s (%v)", sharedDir, err)
	}
	return sharedDir
}

// example is one example message of the release.
type example struct {
	rel string // e.g. "negotiation/example/contract-request-message.json"
	raw []byte
}

func examples(tb testing.TB) []example {
	tb.Helper()
	dir := needShared(tb)
	files, err := filepath.Glob(filepath.Join(dir, "*", "example", "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(files)
	if len(files) < 20 {
		tb.Fatalf("only %d examples under %s", len(files), dir)
	}
	var out []example
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, f)
		out = append(out, example{rel: filepath.ToSlash(rel), raw: raw})
	}
	return out
}

// knownDefects are examples of the release that fail their own schema, and the
// field each fails at: dataservice-did-service.json's serviceEndpoint ends in
// /.well-known/dspace-version, while did-service-schema.json requires every
// serviceEndpoint to end in /catalog. The tests pin the failure, so that a fixed
// release shows up as a failing test that says to drop the entry.
var knownDefects = map[string]string{
	"common/example/dataservice-did-service.json": "serviceEndpoint",
}

// jsonEqual reports whether two documents are equal as JSON: the same values,
// whatever the order of keys and the spelling of numbers and strings.
func jsonEqual(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	return reflect.DeepEqual(anyJSON(tb, a), anyJSON(tb, b))
}

func anyJSON(tb testing.TB, raw []byte) any {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		tb.Fatalf("not JSON: %v\n%s", err, raw)
	}
	return v
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
