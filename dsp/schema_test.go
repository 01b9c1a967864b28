package dsp_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
)

// The copies in spec/ are the release's files, unchanged, and all of them.
func TestSpecCopiesAreTheRelease(t *testing.T) {
	dir := needShared(t)
	var want []string
	for _, pattern := range []string{"*/*-schema.json", "context/*.jsonld", "LICENSE"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			rel, _ := filepath.Rel(dir, f)
			want = append(want, filepath.ToSlash(rel))
		}
	}
	var have []string
	err := filepath.WalkDir("spec", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == filepath.Join("spec", "README.md") {
			return err
		}
		rel, _ := filepath.Rel("spec", p)
		have = append(have, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	slices.Sort(have)
	if !slices.Equal(have, want) {
		t.Fatalf("spec/ holds\n  %v\nthe release has\n  %v", have, want)
	}
	for _, rel := range want {
		a, _ := os.ReadFile(filepath.Join(dir, rel))
		b, _ := os.ReadFile(filepath.Join("spec", rel))
		if !bytes.Equal(a, b) {
			t.Errorf("spec/%s differs from the release's copy", rel)
		}
	}
}

// schemaFileOf pairs an example with its schema by the release's naming: an
// example is named after its schema, less "-schema", with a variant suffix
// (_initial, -full); a nested catalog is a catalog; a DID service entry of either
// type is a DID service.
func schemaFileOf(rel string) string {
	dir := path.Dir(path.Dir(rel))
	base := strings.TrimSuffix(path.Base(rel), ".json")
	base, _, _ = strings.Cut(base, "_")
	base = strings.TrimSuffix(base, "-full")
	switch {
	case base == "nested-catalog":
		base = "catalog"
	case strings.HasSuffix(base, "-did-service"):
		base = "did-service"
	}
	return dsp.SchemaBase + dir + "/" + base + "-schema.json"
}

// Every example of the release validates against its schema, found two ways that
// must agree: from the example's content (its @type) and from the folder layout.
func TestExamplesValidate(t *testing.T) {
	for _, ex := range examples(t) {
		t.Run(ex.rel, func(t *testing.T) {
			kind, err := dsp.KindOf(ex.raw)
			if err != nil {
				t.Fatalf("KindOf: %v", err)
			}
			id, ok := dsp.SchemaID(kind)
			if !ok {
				t.Fatalf("kind %s has no schema", kind)
			}
			if byName := schemaFileOf(ex.rel); id != byName {
				t.Fatalf("the content says %s (%s), the layout says %s", kind, id, byName)
			}
			err = dsp.Validate(kind, ex.raw)
			if field, defect := knownDefects[ex.rel]; defect {
				if err == nil {
					t.Fatalf("the release's known defect is fixed: drop %s from knownDefects", ex.rel)
				}
				if !hasField(err, field) {
					t.Fatalf("fails, but not at %s: %v", field, err)
				}
				t.Logf("known defect of the release, pinned: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := dsp.Validate(id, ex.raw); err != nil {
				t.Fatalf("by schema id: %v", err)
			}
		})
	}
}

// required are the properties each kind must have, from the message tables and
// bullet points of DSP 2025-1 (not read from the schemas, which they check).
var required = map[string][]string{
	dsp.KindCatalogRequest:         {"@context", "@type"},
	dsp.KindDatasetRequest:         {"@context", "@type", "dataset"},
	dsp.KindCatalog:                {"@context", "@id", "@type", "participantId"},
	dsp.KindDataset:                {"@context", "@id", "hasPolicy", "distribution"},
	dsp.KindCatalogError:           {"@context", "@type"},
	dsp.KindContractRequest:        {"@context", "@type", "consumerPid", "offer"},
	dsp.KindContractOffer:          {"@context", "@type", "providerPid", "offer"},
	dsp.KindContractAgreement:      {"@context", "@type", "providerPid", "consumerPid", "agreement"},
	dsp.KindAgreementVerification:  {"@context", "@type", "providerPid", "consumerPid"},
	dsp.KindNegotiationEvent:       {"@context", "@type", "providerPid", "consumerPid", "eventType"},
	dsp.KindNegotiationTermination: {"@context", "@type", "providerPid", "consumerPid"},
	dsp.KindNegotiation:            {"@context", "@type", "providerPid", "consumerPid", "state"},
	dsp.KindNegotiationError:       {"@context", "@type", "providerPid", "consumerPid"},
	dsp.KindTransferRequest:        {"@context", "@type", "consumerPid", "agreementId", "format", "callbackAddress"},
	dsp.KindTransferStart:          {"@context", "@type", "providerPid", "consumerPid"},
	dsp.KindTransferCompletion:     {"@context", "@type", "providerPid", "consumerPid"},
	dsp.KindTransferSuspension:     {"@context", "@type", "providerPid", "consumerPid"},
	dsp.KindTransferTermination:    {"@context", "@type", "providerPid", "consumerPid"},
	dsp.KindTransferProcess:        {"@context", "@type", "providerPid", "consumerPid", "state"},
	dsp.KindTransferError:          {"@context", "@type", "providerPid", "consumerPid"},
	dsp.KindVersion:                {"protocolVersions"},
	dsp.KindDIDService:             {"id", "type", "serviceEndpoint"},
}

// A broken copy of every example fails, and the error names what broke it: each
// required property removed in turn, the type changed, and (where there is one)
// a constraint's operator deep in a policy made up.
func TestBrokenExamplesFail(t *testing.T) {
	for _, ex := range examples(t) {
		if _, defect := knownDefects[ex.rel]; defect {
			continue
		}
		t.Run(ex.rel, func(t *testing.T) {
			kind, err := dsp.KindOf(ex.raw)
			if err != nil {
				t.Fatal(err)
			}
			props := required[kind]
			if len(props) == 0 {
				t.Fatalf("no required properties listed for %s", kind)
			}
			for _, p := range props {
				doc := anyJSON(t, ex.raw).(map[string]any)
				if _, ok := doc[p]; !ok {
					t.Fatalf("the example lacks %s, which the specification requires", p)
				}
				delete(doc, p)
				err := dsp.Validate(kind, mustJSON(t, doc))
				if !hasProblem(err, p, "required") {
					t.Errorf("without %s: %v", p, err)
				}
			}

			doc := anyJSON(t, ex.raw).(map[string]any)
			switch kind {
			case dsp.KindDataset:
				doc["hasPolicy"] = []any{} // the schema leaves a dataset's @type open; an offer it requires
			case dsp.KindVersion:
				doc["protocolVersions"] = []any{}
			case dsp.KindDIDService:
				doc["type"] = "NoSuchService"
			default:
				doc["@type"] = "NoSuchMessage"
			}
			if err := dsp.Validate(kind, mustJSON(t, doc)); dataport.KindOf(err) != dataport.KindInvalid {
				t.Errorf("with a wrong type: %v", err)
			}

			doc = anyJSON(t, ex.raw).(map[string]any)
			if at := breakOperator(doc, ""); at != "" {
				err := dsp.Validate(kind, mustJSON(t, doc))
				if !hasField(err, at) {
					t.Errorf("with the operator at %s made up: %v", at, err)
				}
			}
		})
	}
}

// breakOperator replaces the first ODRL operator it finds with one ODRL does not
// have, and returns where it was, as the project names fields.
func breakOperator(v any, at string) string {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["operator"]; ok {
			v["operator"] = "approximately"
			return join(at, "operator")
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if found := breakOperator(v[k], join(at, k)); found != "" {
				return found
			}
		}
	case []any:
		for i, x := range v {
			if found := breakOperator(x, fmt.Sprintf("%s[%d]", at, i)); found != "" {
				return found
			}
		}
	}
	return ""
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func hasProblem(err error, field, message string) bool {
	for _, f := range dataport.FieldsOf(err) {
		if f.Field == field && f.Message == message {
			return true
		}
	}
	return false
}

func hasField(err error, field string) bool {
	for _, f := range dataport.FieldsOf(err) {
		if f.Field == field {
			return true
		}
	}
	return false
}

func TestValidateRefusesWhatIsNotAMessage(t *testing.T) {
	err := dsp.Validate("NoSuchKind", []byte(`{}`))
	if dataport.KindOf(err) != dataport.KindInvalid || !strings.Contains(err.Error(), "NoSuchKind") {
		t.Errorf("unknown kind: %v", err)
	}
	err = dsp.Validate(dsp.KindNegotiation, []byte(`{"@context": [`))
	if dataport.KindOf(err) != dataport.KindInvalid || len(dataport.FieldsOf(err)) != 1 {
		t.Errorf("not JSON: %v", err)
	}
	// The context must be the array that contains the DSP context.
	err = dsp.Validate(dsp.KindNegotiation, []byte(`{"@context": "https://w3id.org/dspace/2025/1/context.jsonld",
		"@type": "ContractNegotiation", "providerPid": "urn:p", "consumerPid": "urn:c", "state": "REQUESTED"}`))
	if !hasField(err, "@context") {
		t.Errorf("context as a string: %v", err)
	}
	err = dsp.Validate(dsp.KindNegotiation, []byte(`{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
		"@type": "ContractNegotiation", "providerPid": "urn:p", "consumerPid": "urn:c", "state": "PENDING"}`))
	if !hasField(err, "state") {
		t.Errorf("unknown state: %v", err)
	}
}

// KindOf reads the kind from the content; what is not a kind is refused, naming
// @type.
func TestKindOf(t *testing.T) {
	for raw, want := range map[string]string{
		`{"@type": "TransferProcess"}`:                    dsp.KindTransferProcess,
		`{"protocolVersions": []}`:                        dsp.KindVersion,
		`{"type": "DataService", "serviceEndpoint": "x"}`: dsp.KindDIDService,
	} {
		if got, err := dsp.KindOf([]byte(raw)); got != want || err != nil {
			t.Errorf("KindOf(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{`{"@type": "odrl:Offer"}`, `{}`, `[]`} {
		if _, err := dsp.KindOf([]byte(raw)); dataport.KindOf(err) != dataport.KindInvalid {
			t.Errorf("KindOf(%s): %v", raw, err)
		}
	}
	if !slices.Contains(dsp.Kinds(), dsp.KindContractRequest) || len(dsp.Kinds()) != len(required)+1 { // + DataAddress
		t.Errorf("Kinds() = %v", dsp.Kinds())
	}
}

// The error says which field and why, in the terms of the message, not of the
// schema's structure: a choice between properties is one problem, a property the
// schema forbids is named, and of the shapes a value could have had only the one
// the sender evidently meant is reported.
func TestValidationNamesTheField(t *testing.T) {
	dir := needShared(t)
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	type problem struct{ field, message string }
	for _, c := range []struct {
		name, kind, doc string
		want            []problem
	}{
		{"both ways of naming the negotiation", dsp.KindContractRequest,
			strings.Replace(read("negotiation/example/contract-request-message_initial.json"), `"callbackAddress"`, `"providerPid": "urn:p", "callbackAddress"`, 1),
			[]problem{{"", "give exactly one of callbackAddress, providerPid"}}},
		{"neither way", dsp.KindContractRequest,
			strings.Replace(read("negotiation/example/contract-request-message_initial.json"), `"callbackAddress"`, `"callback"`, 1),
			[]problem{{"", "give exactly one of callbackAddress, providerPid"}}},
		{"a catalog with a policy of its own", dsp.KindCatalog,
			strings.Replace(read("catalog/example/catalog.json"), `"service"`, `"hasPolicy": [], "service"`, 1),
			[]problem{{"hasPolicy", "not allowed here"}}},
		{"a made-up operator, and a misnamed pid", dsp.KindContractRequest,
			strings.Replace(strings.Replace(read("negotiation/example/contract-request-message.json"), `"lteq"`, `"approximately"`, 1), `"consumerPid"`, `"consumerPID"`, 1),
			[]problem{{"consumerPid", "required"}, {"offer.permission[0].constraint[0].operator",
				"value must be one of 'eq', 'gt', 'gteq', 'lteq', 'hasPart', 'isA', 'isAllOf', 'isAnyOf', 'isNoneOf', 'isPartOf', 'lt', 'term-lteq', 'neq'"}}},
		{"an inline data service without its endpoint", dsp.KindDataset,
			strings.Replace(read("catalog/example/dataset.json"), `"endpointURL"`, `"endpointUrl"`, 1),
			[]problem{{"distribution[0].accessService.endpointURL", "required"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := dsp.Validate(c.kind, []byte(c.doc))
			var got []problem
			for _, f := range dataport.FieldsOf(err) {
				got = append(got, problem{f.Field, f.Message})
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("problems %q\nwant %q", got, c.want)
			}
		})
	}
}

// The endpoints validate from many goroutines at once.
func TestValidateConcurrently(t *testing.T) {
	exs := examples(t)
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			for i := range 50 {
				ex := exs[(g+i)%len(exs)]
				if _, defect := knownDefects[ex.rel]; defect {
					continue
				}
				kind, _ := dsp.KindOf(ex.raw)
				if e := dsp.Validate(kind, ex.raw); e != nil && err == nil {
					err = e
				}
				if _, e := dsp.Compact(ex.raw); e != nil && err == nil && !strings.HasPrefix(ex.rel, "common/") {
					err = e
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
