package dsp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/piprate/json-gold/ld"

	"github.com/dataport/dataport"
)

// The JSON-LD contexts of DSP 2025-1 (Common Functionalities, "Schemas &
// Contexts"): messages are written compacted with the DSP context, whose
// type-scoped contexts import the ODRL profile context for policies.
const (
	ContextURL     = "https://w3id.org/dspace/2025/1/context.jsonld"
	ODRLContextURL = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"
)

var contextFiles = map[string]string{
	ContextURL:     "spec/context/dspace.jsonld",
	ODRLContextURL: "spec/context/odrl.jsonld",
}

var (
	contextDocs    map[string]any
	contextErr     error
	contextOnce    sync.Once
	compactContext = map[string]any{"@context": []any{ContextURL}}
)

func loadContexts() (map[string]any, error) {
	contextOnce.Do(func() {
		contextDocs = map[string]any{}
		for u, f := range contextFiles {
			b, err := spec.ReadFile(f)
			if err != nil {
				contextErr = err
				return
			}
			var doc any
			if err := json.Unmarshal(b, &doc); err != nil {
				contextErr = fmt.Errorf("%s: %w", f, err)
				return
			}
			contextDocs[u] = doc
		}
	})
	return contextDocs, contextErr
}

// Contexts returns the protocol's JSON-LD context documents by URL, each a fresh
// copy: for a JSON-LD processor that must not fetch them, such as the DCAT
// harvester reading another connector's catalog (dcat.Options.Contexts).
func Contexts() map[string]any {
	docs, err := loadContexts()
	if err != nil {
		panic(err) // the embedded files are checked by the tests
	}
	out := map[string]any{}
	for u, d := range docs {
		out[u] = ld.CloneDocument(d)
	}
	return out
}

// contextLoader serves the protocol's contexts from the embedded copies and
// refuses every other URL, naming it: interpreting a message never goes to the
// network.
type contextLoader struct{ docs map[string]any }

func (l contextLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	key := strings.TrimSuffix(strings.Replace(u, "http://", "https://", 1), "/")
	doc, ok := l.docs[key]
	if !ok {
		return nil, ld.NewJsonLdError(ld.LoadingRemoteContextFailed, fmt.Sprintf(
			"remote context %s is not one of the DSP 2025-1 contexts dataport carries (%s), and dataport fetches no context",
			u, strings.Join(slices.Sorted(maps.Keys(l.docs)), ", ")))
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: ld.CloneDocument(doc)}, nil
}

// recoverLD runs fn, a call into json-gold, and returns a panic of it as an error.
// The library asserts the types of what it walks, and some documents a peer may
// send break those assertions (an object {"": 0} panics in expandObject): a
// malformed message must be refused, not crash the connector.
func recoverLD[T any](fn func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("JSON-LD processing failed: %v", r)
		}
	}()
	return fn()
}

// Compact interprets raw as JSON-LD 1.1 with the protocol's contexts and writes it
// compacted with the DSP context, "@context" as the one-element array the schemas
// expect. A message that another connector wrote with prefixed terms
// ("dspace:providerPid") or expanded IRIs thus reads as the specification's own
// examples do; those examples are fixed points of Compact. A remote context other
// than the protocol's is an error naming it.
func Compact(raw []byte) ([]byte, error) {
	const op = "dsp.Compact"
	docs, err := loadContexts()
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: "not a JSON document",
			Fields: []dataport.FieldProblem{{Message: "not JSON: " + err.Error()}}}
	}
	opts := ld.NewJsonLdOptions("")
	opts.ProcessingMode = ld.JsonLd_1_1
	opts.DocumentLoader = contextLoader{docs}
	proc := ld.NewJsonLdProcessor()
	expanded, err := recoverLD(func() ([]any, error) { return proc.Expand(doc, opts) })
	if err != nil {
		return nil, &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: "not JSON-LD dataport can interpret",
			Fields: []dataport.FieldProblem{{Field: "@context", Message: err.Error()}}}
	}
	compacted, err := recoverLD(func() (map[string]any, error) { return proc.Compact(expanded, compactContext, opts) })
	if err != nil {
		return nil, &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: "not JSON-LD dataport can interpret",
			Fields: []dataport.FieldProblem{{Field: "@context", Message: err.Error()}}}
	}
	if _, ok := compacted["@context"]; ok {
		compacted["@context"] = []any{ContextURL}
	}
	out, err := json.Marshal(compacted)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	return out, nil
}
