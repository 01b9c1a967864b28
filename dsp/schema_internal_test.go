package dsp

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Three transfer schemas of the release refer to a definition with a fragment
// that is not a JSON Pointer ("#definitions/…"); registration reads each as the
// pointer it means, and only those.
func TestSchemaRefRepairs(t *testing.T) {
	s, err := loadSchemas()
	if err != nil {
		t.Fatal(err)
	}
	const ref = "https://w3id.org/dspace/2025/1/transfer/transfer-schema.json#definitions/AbstractTransferCodeMessage → https://w3id.org/dspace/2025/1/transfer/transfer-schema.json#/definitions/AbstractTransferCodeMessage"
	want := []string{
		"transfer-error-schema.json: " + ref,
		"transfer-suspension-message-schema.json: " + ref,
		"transfer-termination-message-schema.json: " + ref,
	}
	got := slices.Clone(s.repairs)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("repairs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Without the repair the schemas do not compile: the repair is needed, not
	// a matter of taste.
	c := jsonschema.NewCompiler()
	c.UseLoader(noFetch{})
	for _, f := range []string{"transfer/transfer-schema.json", "common/context-schema.json", "transfer/transfer-error-schema.json"} {
		b, err := spec.ReadFile("spec/" + f)
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err := c.AddResource(SchemaBase+f, doc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Compile(SchemaBase + "transfer/transfer-error-schema.json"); err == nil {
		t.Fatal("the unrepaired transfer-error schema compiles; drop the repair")
	}
}

// A schema that refers to one dataport does not carry fails to compile, naming
// it: nothing is fetched.
func TestCompileFetchesNothing(t *testing.T) {
	fsys := fstest.MapFS{"spec/x/a-schema.json": {Data: []byte(`{
		"$schema": "https://json-schema.org/draft/2019-09/schema",
		"$id": "https://w3id.org/dspace/2025/1/x/a-schema.json",
		"$ref": "https://schemas.example.org/elsewhere.json"}`)}}
	_, err := compileSchemas(fsys)
	if err == nil || !strings.Contains(err.Error(), "https://schemas.example.org/elsewhere.json") ||
		!strings.Contains(err.Error(), "fetches no schema") {
		t.Fatalf("got %v", err)
	}
}
