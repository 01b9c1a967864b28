package dsp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/dataport/dataport"
)

// Message is a DSP 2025-1 message or protocol object with a schema of its own.
// Every type of this package that has one implements it on its pointer.
type Message interface {
	// MessageKind is the kind the message is validated as (its @type, where it
	// has one).
	MessageKind() string
}

// Context is a message's "@context": the DSP context, and any other a
// message adds (a DID service entry adds the DID context). Encode fills it in
// when empty.
type Context []string

// Encode writes m as the protocol's compacted JSON and validates it against its
// kind's schema: how every message leaves dataport. It fills in what the kind
// fixes and m leaves empty — "@context" (the DSP context) and "@type" — without
// changing m. A message that fails its schema is not written: the error names
// the fields, as Validate does.
func Encode(m Message) ([]byte, error) {
	const op = "dsp.Encode"
	kind := m.MessageKind()
	info, ok := kinds[kind]
	if !ok {
		return nil, dataport.Internal(op, fmt.Errorf("%T: kind %q has no schema", m, kind))
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, dataport.Internal(op, err)
	}
	if info.typed || info.context {
		obj, err := decodeObject(raw)
		if err != nil {
			return nil, dataport.Internal(op, err)
		}
		if _, ok := obj["@context"]; info.context && !ok {
			obj["@context"] = Context{ContextURL}
		}
		if t, _ := obj["@type"].(string); info.typed && t == "" {
			obj["@type"] = kind
		}
		if raw, err = json.Marshal(obj); err != nil {
			return nil, dataport.Internal(op, err)
		}
	}
	if err := Validate(kind, raw); err != nil {
		return nil, dataport.Wrap(op, err)
	}
	return raw, nil
}

// Decode reads raw as a message of m's kind into m. The message is validated
// against the kind's schema; one that does not validate as written but is
// JSON-LD in another form of the same terms (prefixed, expanded) is compacted
// with the protocol's contexts (Compact) and validated again, and read in that
// form. A message in the compact terms must name the DSP context (hasContext). A
// message that fails is refused with the problems found, and m is left as it was.
func Decode(raw []byte, m Message) error {
	const op = "dsp.Decode"
	kind := m.MessageKind()
	verr := Validate(kind, raw)
	if verr == nil && kinds[kind].context {
		if err := hasContext(raw); err != nil {
			return dataport.Wrap(op, err)
		}
	}
	if verr != nil {
		compacted, err := Compact(raw)
		if err != nil || bytes.Equal(compacted, raw) {
			return dataport.Wrap(op, verr)
		}
		if err := Validate(kind, compacted); err != nil {
			return dataport.Wrap(op, verr)
		}
		raw = compacted
	}
	fresh := reflect.New(reflect.TypeOf(m).Elem())
	if err := json.Unmarshal(raw, fresh.Interface()); err != nil {
		return &dataport.Error{Op: op, Kind: dataport.KindInvalid, Message: fmt.Sprintf("not a valid %s", kind),
			Fields: []dataport.FieldProblem{{Message: err.Error()}}}
	}
	reflect.ValueOf(m).Elem().Set(fresh.Elem())
	return nil
}

// hasContext checks that a message written in the protocol's compact terms says so:
// its "@context" names the DSP context ("Terminology": the messages are JSON-LD
// documents compacted with it). Without it the terms mean nothing in JSON-LD, and
// another connector's message is not read on a guess. A message in expanded form
// needs no context; Decode reads it after compacting it.
func hasContext(raw []byte) error {
	obj, err := decodeObject(raw)
	if err != nil {
		return dataport.Invalid("dsp.hasContext", dataport.FieldProblem{Message: err.Error()})
	}
	var ctxs []any
	switch c := obj["@context"].(type) {
	case string:
		ctxs = []any{c}
	case []any:
		ctxs = c
	}
	for _, c := range ctxs {
		if c == ContextURL {
			return nil
		}
	}
	return dataport.Invalid("dsp.hasContext", dataport.FieldProblem{Field: "@context", Message: "must name the protocol's context, " + ContextURL})
}

func decodeObject(raw []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// Extra holds the properties of a DCAT or ODRL object that its Go type does not
// name (dct:title, dcat:keyword, odrl:refinement, a profile's own terms): JSON-LD
// is open, and what another connector says is kept and written back unchanged.
// Numbers keep their text (json.Number).
type Extra map[string]any

// marshalWithExtra writes v (a value of a plain struct type, without methods)
// and then the extra properties it does not already write.
func marshalWithExtra(v any, extra Extra) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return raw, err
	}
	obj, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	for k, x := range extra {
		if _, ok := obj[k]; !ok {
			obj[k] = x
		}
	}
	return json.Marshal(obj)
}

// unmarshalWithExtra reads data into v (a pointer to a plain struct) and returns
// the properties its fields do not name.
func unmarshalWithExtra(data []byte, v any) (Extra, error) {
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	obj, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	known := jsonNames(reflect.TypeOf(v).Elem())
	var extra Extra
	for k, x := range obj {
		if !known[k] {
			if extra == nil {
				extra = Extra{}
			}
			extra[k] = x
		}
	}
	return extra, nil
}

var names sync.Map // reflect.Type → map[string]bool

// jsonNames returns the JSON names of a struct type's fields.
func jsonNames(t reflect.Type) map[string]bool {
	if n, ok := names.Load(t); ok {
		return n.(map[string]bool)
	}
	n := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		n[name] = true
	}
	names.Store(t, n)
	return n
}

// PIDsOf returns the provider and consumer pids a message names: every message on
// an existing negotiation or transfer carries both ("Message Types"); a message that
// names no process (a catalog message, a new negotiation's or transfer's request
// before the provider's pid exists) gives what it has, or "".
func PIDsOf(m Message) (provider, consumer string) {
	switch m := m.(type) {
	case *ContractRequestMessage:
		return m.ProviderPID, m.ConsumerPID
	case *ContractOfferMessage:
		return m.ProviderPID, m.ConsumerPID
	case *ContractAgreementMessage:
		return m.ProviderPID, m.ConsumerPID
	case *ContractAgreementVerificationMessage:
		return m.ProviderPID, m.ConsumerPID
	case *ContractNegotiationEventMessage:
		return m.ProviderPID, m.ConsumerPID
	case *ContractNegotiationTerminationMessage:
		return m.ProviderPID, m.ConsumerPID
	case *ContractNegotiation:
		return m.ProviderPID, m.ConsumerPID
	case *ContractNegotiationError:
		return m.ProviderPID, m.ConsumerPID
	case *TransferRequestMessage:
		return "", m.ConsumerPID
	case *TransferStartMessage:
		return m.ProviderPID, m.ConsumerPID
	case *TransferCompletionMessage:
		return m.ProviderPID, m.ConsumerPID
	case *TransferSuspensionMessage:
		return m.ProviderPID, m.ConsumerPID
	case *TransferTerminationMessage:
		return m.ProviderPID, m.ConsumerPID
	case *TransferProcess:
		return m.ProviderPID, m.ConsumerPID
	case *TransferError:
		return m.ProviderPID, m.ConsumerPID
	}
	return "", ""
}
