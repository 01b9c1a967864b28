package dsp

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/dataport/dataport"
)

// spec holds the protocol's normative artifacts as published with DSP 2025-1
// (the JSON Schemas, the JSON-LD contexts and their licence), copied unchanged
// from the specification's release; spec/README.md says where from.
//
//go:embed spec
var spec embed.FS

// Kinds of message and the schema each is validated against: the "Schema" row of
// each message's table in DSP 2025-1 (Catalog Protocol, Contract Negotiation
// Protocol, Transfer Process Protocol, Common Functionalities). A kind is the
// message's @type where it has one.
const (
	KindCatalogRequest         = "CatalogRequestMessage"
	KindDatasetRequest         = "DatasetRequestMessage"
	KindCatalog                = "Catalog"
	KindDataset                = "Dataset"
	KindCatalogError           = "CatalogError"
	KindContractRequest        = "ContractRequestMessage"
	KindContractOffer          = "ContractOfferMessage"
	KindContractAgreement      = "ContractAgreementMessage"
	KindAgreementVerification  = "ContractAgreementVerificationMessage"
	KindNegotiationEvent       = "ContractNegotiationEventMessage"
	KindNegotiationTermination = "ContractNegotiationTerminationMessage"
	KindNegotiation            = "ContractNegotiation"
	KindNegotiationError       = "ContractNegotiationError"
	KindTransferRequest        = "TransferRequestMessage"
	KindTransferStart          = "TransferStartMessage"
	KindTransferCompletion     = "TransferCompletionMessage"
	KindTransferSuspension     = "TransferSuspensionMessage"
	KindTransferTermination    = "TransferTerminationMessage"
	KindTransferProcess        = "TransferProcess"
	KindTransferError          = "TransferError"
	KindDataAddress            = "DataAddress"
	// KindVersion is the version metadata (Common Functionalities, "Exposure of
	// Versions"); it has no @type, so the kind is its schema's definition name.
	KindVersion = "VersionResponse"
	// KindDIDService is a DID document's service entry that points to a catalog
	// or a connector (Common Functionalities, "Discovery of Catalogs").
	KindDIDService = "DidService"
)

// SchemaBase is the common prefix of the schemas' $id: each schema is registered
// under its $id, which is where the specification publishes it.
const SchemaBase = "https://w3id.org/dspace/2025/1/"

type kindInfo struct {
	schema  string // path under SchemaBase (and under spec/)
	typed   bool   // the message carries "@type": kind
	context bool   // the message carries "@context" with the DSP context
}

var kinds = map[string]kindInfo{
	KindCatalogRequest:         {"catalog/catalog-request-message-schema.json", true, true},
	KindDatasetRequest:         {"catalog/dataset-request-message-schema.json", true, true},
	KindCatalog:                {"catalog/catalog-schema.json", true, true},
	KindDataset:                {"catalog/dataset-schema.json", true, true},
	KindCatalogError:           {"catalog/catalog-error-schema.json", true, true},
	KindContractRequest:        {"negotiation/contract-request-message-schema.json", true, true},
	KindContractOffer:          {"negotiation/contract-offer-message-schema.json", true, true},
	KindContractAgreement:      {"negotiation/contract-agreement-message-schema.json", true, true},
	KindAgreementVerification:  {"negotiation/contract-agreement-verification-message-schema.json", true, true},
	KindNegotiationEvent:       {"negotiation/contract-negotiation-event-message-schema.json", true, true},
	KindNegotiationTermination: {"negotiation/contract-negotiation-termination-message-schema.json", true, true},
	KindNegotiation:            {"negotiation/contract-negotiation-schema.json", true, true},
	KindNegotiationError:       {"negotiation/contract-negotiation-error-schema.json", true, true},
	KindTransferRequest:        {"transfer/transfer-request-message-schema.json", true, true},
	KindTransferStart:          {"transfer/transfer-start-message-schema.json", true, true},
	KindTransferCompletion:     {"transfer/transfer-completion-message-schema.json", true, true},
	KindTransferSuspension:     {"transfer/transfer-suspension-message-schema.json", true, true},
	KindTransferTermination:    {"transfer/transfer-termination-message-schema.json", true, true},
	KindTransferProcess:        {"transfer/transfer-process-schema.json", true, true},
	KindTransferError:          {"transfer/transfer-error-schema.json", true, true},
	KindDataAddress:            {"transfer/data-address-schema.json", true, false},
	KindVersion:                {"common/protocol-version-schema.json", false, false},
	KindDIDService:             {"common/did-service-schema.json", false, false},
}

// Kinds returns every kind Validate knows, sorted.
func Kinds() []string { return slices.Sorted(maps.Keys(kinds)) }

// SchemaID returns the $id of the schema a kind is validated against.
func SchemaID(kind string) (string, bool) {
	k, ok := kinds[kind]
	if !ok {
		return "", false
	}
	return SchemaBase + k.schema, true
}

// schemas is the compiled set: every schema of spec/ registered by its $id, with
// a loader that fetches nothing.
type schemas struct {
	byID    map[string]*jsonschema.Schema
	docs    map[string]any // the schema documents by $id, as registered
	repairs []string       // the $refs rewritten at registration, "file: old → new"
}

var (
	compiled     *schemas
	compileErr   error
	compileOnce  sync.Once
	errorPrinter = message.NewPrinter(language.English)
)

func loadSchemas() (*schemas, error) {
	compileOnce.Do(func() { compiled, compileErr = compileSchemas(spec) })
	return compiled, compileErr
}

// noFetch is the compiler's loader: every schema the protocol needs is registered
// by its $id before compiling, so a reference to any other URL is an error that
// names it; nothing is ever fetched. (The JSON Schema 2019-09 meta-schemas are
// built into the library.)
type noFetch struct{}

func (noFetch) Load(u string) (any, error) {
	return nil, fmt.Errorf("schema %s is not among the DSP 2025-1 schemas dataport carries, and dataport fetches no schema", u)
}

func compileSchemas(fsys fs.FS) (*schemas, error) {
	c := jsonschema.NewCompiler()
	c.UseLoader(noFetch{})
	s := &schemas{byID: map[string]*jsonschema.Schema{}, docs: map[string]any{}}
	var ids []string
	err := fs.WalkDir(fsys, "spec", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "-schema.json") {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		m, _ := doc.(map[string]any)
		id, _ := m["$id"].(string)
		if want := SchemaBase + strings.TrimPrefix(p, "spec/"); id != want {
			return fmt.Errorf("%s: $id %q, not %q as its place says", p, id, want)
		}
		s.repairs = append(s.repairs, repairRefs(path.Base(p), doc)...)
		if err := c.AddResource(id, doc); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		s.docs[id] = doc
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		sch, err := c.Compile(id)
		if err != nil {
			return nil, fmt.Errorf("compiling %s: %w", id, err)
		}
		s.byID[id] = sch
	}
	for k, info := range kinds {
		if s.byID[SchemaBase+info.schema] == nil {
			return nil, fmt.Errorf("kind %s: schema %s not carried", k, info.schema)
		}
	}
	return s, nil
}

// anchorName is a plain-name fragment as JSON Schema 2019-09 allows it ("$anchor").
var anchorName = regexp.MustCompile(`^[A-Za-z_][-A-Za-z0-9._]*$`)

// repairRefs rewrites, in place, each $ref whose fragment is neither a JSON
// Pointer nor a valid anchor name, reading it as the pointer it evidently means.
// Three transfer schemas of the release refer to
// "transfer-schema.json#definitions/AbstractTransferCodeMessage": JSON Schema
// 2019-09 ("Fragment Identifiers") reads a fragment not beginning with "/" as an anchor,
// which no schema defines and which that name could not even be. Read as
// "#/definitions/AbstractTransferCodeMessage" it names the definition the three
// schemas are built on, and the schemas compile; the files in spec/ stay as
// published, and the test pins the three rewrites.
func repairRefs(file string, doc any) []string {
	var repairs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if base, frag, found := strings.Cut(ref, "#"); found && frag != "" && !strings.HasPrefix(frag, "/") && !anchorName.MatchString(frag) {
					v["$ref"] = base + "#/" + frag
					repairs = append(repairs, file+": "+ref+" → "+v["$ref"].(string))
				}
			}
			for _, k := range slices.Sorted(maps.Keys(v)) {
				walk(v[k])
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return repairs
}

// Validate checks raw against the schema of a kind (KindContractRequest, …) or of
// a schema $id (SchemaBase + "negotiation/contract-schema.json"). It returns nil
// or a KindInvalid *dataport.Error whose Fields name each offending field (dotted,
// "offer.permission[0].action"; empty for the message itself) and say why: what
// a protocol error message's reason carries (DSP 2025-1, "Contract Negotiation
// Error", "Transfer Error", "Catalog Error").
//
// Validate checks the JSON as it is; Decode first interprets JSON-LD written
// with other term forms.
func Validate(kindOrID string, raw []byte) error {
	const op = "dsp.Validate"
	s, err := loadSchemas()
	if err != nil {
		return dataport.Internal(op, err)
	}
	id := kindOrID
	if info, ok := kinds[kindOrID]; ok {
		id = SchemaBase + info.schema
	}
	sch := s.byID[id]
	if sch == nil {
		return dataport.Errorf(op, dataport.KindInvalid, "%q is neither a DSP 2025-1 message kind nor a schema $id; kinds: %s", kindOrID, strings.Join(Kinds(), ", "))
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: "not a JSON document",
			Fields: []dataport.FieldProblem{{Message: "not JSON: " + err.Error()}}}
	}
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return dataport.Internal(op, err)
	}
	return &dataport.Error{Op: op, Kind: dataport.KindInvalid,
		Message: fmt.Sprintf("not a valid %s (schema %s)", name(kindOrID), id), Fields: s.problems(ve)}
}

func name(kindOrID string) string {
	if _, ok := kinds[kindOrID]; ok {
		return kindOrID
	}
	return path.Base(kindOrID)
}

// problems turns a validation error tree into field problems, one per leaf: a
// missing property is named as the field it should have been; a property the
// schema forbids (not: {required: […]}) is named as not allowed; a choice between
// properties (oneOf of single requirements) is one problem; and of the branches
// of any other failed oneOf or anyOf only the one that got furthest into the
// message is reported, since the others describe shapes the sender did not mean.
func (s *schemas) problems(ve *jsonschema.ValidationError) []dataport.FieldProblem {
	var out []dataport.FieldProblem
	seen := map[dataport.FieldProblem]bool{}
	add := func(p dataport.FieldProblem) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		at := fieldPath(e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		case *kind.OneOf, *kind.AnyOf:
			if props := s.choice(e.SchemaURL, e.ErrorKind.KeywordPath()[0]); props != nil {
				add(dataport.FieldProblem{Field: at, Message: "give exactly one of " + strings.Join(props, ", ")})
				return
			}
			if len(e.Causes) > 1 {
				walk(furthest(e.Causes))
				return
			}
		case *kind.Not:
			if props := s.forbidden(e.SchemaURL); props != nil {
				for _, p := range props {
					add(dataport.FieldProblem{Field: join(at, p), Message: "not allowed here"})
				}
				return
			}
		case *kind.Required:
			for _, m := range k.Missing {
				add(dataport.FieldProblem{Field: join(at, m), Message: "required"})
			}
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		add(dataport.FieldProblem{Field: at, Message: e.ErrorKind.LocalizedString(errorPrinter)})
	}
	walk(ve)
	return out
}

// furthest returns the branch error that best matches the sender's evident
// intent: one whose value has the branch's JSON type, then the one whose problems
// lie deepest in the message, then the one with fewer problems.
func furthest(branches []*jsonschema.ValidationError) *jsonschema.ValidationError {
	var best *jsonschema.ValidationError
	bestRank := [3]int{-1, -1, 0}
	for _, b := range branches {
		typed, depth, leaves := 1, 0, 0
		var measure func(e *jsonschema.ValidationError)
		measure = func(e *jsonschema.ValidationError) {
			if len(e.Causes) == 0 {
				leaves++
				depth = max(depth, len(e.InstanceLocation))
				if _, wrongType := e.ErrorKind.(*kind.Type); wrongType && len(e.InstanceLocation) == len(b.InstanceLocation) {
					typed = 0
				}
			}
			for _, c := range e.Causes {
				measure(c)
			}
		}
		measure(b)
		rank := [3]int{typed, depth, -leaves}
		if best == nil || rank[0] > bestRank[0] || rank[0] == bestRank[0] && (rank[1] > bestRank[1] || rank[1] == bestRank[1] && rank[2] > bestRank[2]) {
			best, bestRank = b, rank
		}
	}
	return best
}

// node returns the schema node at an absolute schema location (a $id and a
// JSON Pointer fragment).
func (s *schemas) node(loc string) map[string]any {
	id, frag, _ := strings.Cut(loc, "#")
	var v any = s.docs[id]
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	m, _ := v.(map[string]any)
	return m
}

// onlyRequired returns the properties a schema requires when requiring them is
// all it does.
func onlyRequired(v any) []string {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil
	}
	list, _ := m["required"].([]any)
	var props []string
	for _, p := range list {
		if p, ok := p.(string); ok {
			props = append(props, p)
		}
	}
	return props
}

// choice returns the properties of a oneOf or anyOf at loc whose every branch
// requires one property and nothing else ("callbackAddress" or "providerPid").
func (s *schemas) choice(loc, keyword string) []string {
	branches, _ := s.node(loc)[keyword].([]any)
	var props []string
	for _, b := range branches {
		p := onlyRequired(b)
		if len(p) != 1 {
			return nil
		}
		props = append(props, p[0])
	}
	return props
}

// forbidden returns the properties a "not" at loc forbids, when it forbids
// properties and nothing else.
func (s *schemas) forbidden(loc string) []string {
	return onlyRequired(s.node(loc)["not"])
}

// fieldPath renders a JSON location as the project names fields:
// ["offer","permission","0","action"] → "offer.permission[0].action".
func fieldPath(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func join(at, field string) string {
	if at == "" {
		return field
	}
	return at + "." + field
}

// KindOf tells the kind of a message from its content: its @type when that is a
// kind, else the version metadata by its protocolVersions and a DID service entry
// by its serviceEndpoint.
func KindOf(raw []byte) (string, error) {
	const op = "dsp.KindOf"
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: "not a JSON object",
			Fields: []dataport.FieldProblem{{Message: "not a JSON object: " + err.Error()}}}
	}
	var t string
	if json.Unmarshal(m["@type"], &t) == nil && t != "" {
		if info, ok := kinds[t]; ok && info.typed {
			return t, nil
		}
		return "", &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: "unknown message type",
			Fields: []dataport.FieldProblem{{Field: "@type", Message: fmt.Sprintf("%q is not a DSP 2025-1 message type", t)}}}
	}
	switch {
	case m["protocolVersions"] != nil:
		return KindVersion, nil
	case m["serviceEndpoint"] != nil:
		return KindDIDService, nil
	}
	return "", &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: "unknown message type",
		Fields: []dataport.FieldProblem{{Field: "@type", Message: "required"}}}
}
