package dsp_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/piprate/json-gold/ld"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
)

// messageOf returns a new Go value of each kind.
var messageOf = map[string]func() dsp.Message{
	dsp.KindCatalogRequest:         func() dsp.Message { return new(dsp.CatalogRequestMessage) },
	dsp.KindDatasetRequest:         func() dsp.Message { return new(dsp.DatasetRequestMessage) },
	dsp.KindCatalog:                func() dsp.Message { return new(dsp.Catalog) },
	dsp.KindDataset:                func() dsp.Message { return new(dsp.Dataset) },
	dsp.KindCatalogError:           func() dsp.Message { return new(dsp.CatalogError) },
	dsp.KindContractRequest:        func() dsp.Message { return new(dsp.ContractRequestMessage) },
	dsp.KindContractOffer:          func() dsp.Message { return new(dsp.ContractOfferMessage) },
	dsp.KindContractAgreement:      func() dsp.Message { return new(dsp.ContractAgreementMessage) },
	dsp.KindAgreementVerification:  func() dsp.Message { return new(dsp.ContractAgreementVerificationMessage) },
	dsp.KindNegotiationEvent:       func() dsp.Message { return new(dsp.ContractNegotiationEventMessage) },
	dsp.KindNegotiationTermination: func() dsp.Message { return new(dsp.ContractNegotiationTerminationMessage) },
	dsp.KindNegotiation:            func() dsp.Message { return new(dsp.ContractNegotiation) },
	dsp.KindNegotiationError:       func() dsp.Message { return new(dsp.ContractNegotiationError) },
	dsp.KindTransferRequest:        func() dsp.Message { return new(dsp.TransferRequestMessage) },
	dsp.KindTransferStart:          func() dsp.Message { return new(dsp.TransferStartMessage) },
	dsp.KindTransferCompletion:     func() dsp.Message { return new(dsp.TransferCompletionMessage) },
	dsp.KindTransferSuspension:     func() dsp.Message { return new(dsp.TransferSuspensionMessage) },
	dsp.KindTransferTermination:    func() dsp.Message { return new(dsp.TransferTerminationMessage) },
	dsp.KindTransferProcess:        func() dsp.Message { return new(dsp.TransferProcess) },
	dsp.KindTransferError:          func() dsp.Message { return new(dsp.TransferError) },
	dsp.KindDataAddress:            func() dsp.Message { return new(dsp.DataAddress) },
	dsp.KindVersion:                func() dsp.Message { return new(dsp.VersionResponse) },
	dsp.KindDIDService:             func() dsp.Message { return new(dsp.DIDService) },
}

func TestEveryKindHasAType(t *testing.T) {
	for _, k := range dsp.Kinds() {
		mk, ok := messageOf[k]
		if !ok {
			t.Errorf("no Go type for %s", k)
			continue
		}
		if got := mk().MessageKind(); got != k {
			t.Errorf("%T.MessageKind() = %s, want %s", mk(), got, k)
		}
	}
	if len(messageOf) != len(dsp.Kinds()) {
		t.Errorf("%d types for %d kinds", len(messageOf), len(dsp.Kinds()))
	}
}

// Each example decodes into its type and encodes back to JSON that validates and
// is the example, as JSON; and what dataport writes is the compacted form the
// DSP context produces (a fixed point of JSON-LD compaction).
func TestRoundTrip(t *testing.T) {
	for _, ex := range examples(t) {
		if _, defect := knownDefects[ex.rel]; defect {
			continue // it does not decode, as it does not validate
		}
		t.Run(ex.rel, func(t *testing.T) {
			kind, err := dsp.KindOf(ex.raw)
			if err != nil {
				t.Fatal(err)
			}
			m := messageOf[kind]()
			if err := dsp.Decode(ex.raw, m); err != nil {
				t.Fatal(err)
			}
			out, err := dsp.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, out, ex.raw) {
				t.Fatalf("encoded:\n%s\nthe example:\n%s", out, ex.raw)
			}
			if err := dsp.Validate(kind, out); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(ex.rel, "common/") {
				return // not JSON-LD in the DSP context alone (the DID context), or not JSON-LD at all
			}
			compacted, err := dsp.Compact(out)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, compacted, out) {
				t.Fatalf("compacted with the DSP context:\n%s\nwritten:\n%s", compacted, out)
			}
		})
	}
}

// A message written in another JSON-LD form of the same terms — here the fully
// expanded form — is interpreted with the protocol's contexts and reads exactly as
// the compacted example does.
func TestDecodeInterpretsJSONLD(t *testing.T) {
	loader := contexts(dsp.Contexts())
	for _, ex := range examples(t) {
		if strings.HasPrefix(ex.rel, "common/") {
			continue
		}
		t.Run(ex.rel, func(t *testing.T) {
			kind, _ := dsp.KindOf(ex.raw)
			opts := ld.NewJsonLdOptions("")
			opts.ProcessingMode = ld.JsonLd_1_1
			opts.DocumentLoader = loader
			expanded, err := ld.NewJsonLdProcessor().Expand(anyJSON(t, ex.raw), opts)
			if err != nil {
				t.Fatal(err)
			}
			raw := mustJSON(t, expanded)
			if dsp.Validate(kind, raw) == nil {
				t.Fatal("the expanded form validates as it is: the test proves nothing")
			}
			want, got := messageOf[kind](), messageOf[kind]()
			if err := dsp.Decode(ex.raw, want); err != nil {
				t.Fatal(err)
			}
			if err := dsp.Decode(raw, got); err != nil {
				t.Fatalf("expanded form: %v\n%s", err, raw)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("expanded form reads as\n%+v\nthe example as\n%+v", got, want)
			}
		})
	}
}

// A message in another version's context is not interpreted by guesswork: the
// error names the context dataport does not carry, and the message is refused.
func TestDecodeRefusesOtherContexts(t *testing.T) {
	raw := []byte(`{"@context": "https://w3id.org/dspace/2024/1/context.json",
		"@type": "dspace:ContractNegotiation", "dspace:providerPid": "urn:p",
		"dspace:consumerPid": "urn:c", "dspace:state": "dspace:REQUESTED"}`)
	_, err := dsp.Compact(raw)
	if dataport.KindOf(err) != dataport.KindInvalid || !strings.Contains(err.Error(), "https://w3id.org/dspace/2024/1/context.json") {
		t.Fatalf("Compact: %v", err)
	}
	m := &dsp.ContractNegotiation{ProviderPID: "unchanged"}
	err = dsp.Decode(raw, m)
	if dataport.KindOf(err) != dataport.KindInvalid || !hasField(err, "@context") {
		t.Fatalf("Decode: %v", err)
	}
	if m.ProviderPID != "unchanged" {
		t.Fatalf("a refused message changed the value: %+v", m)
	}
}

// A message in the compact terms without the protocol's context, or with only another
// context, is refused naming @context; the same message with the context is read.
func TestDecodeNeedsTheContext(t *testing.T) {
	body := `"@type": "ContractNegotiationEventMessage", "providerPid": "urn:p", "consumerPid": "urn:c", "eventType": "ACCEPTED"`
	for _, raw := range []string{
		`{` + body + `}`,
		`{"@context": ["https://example.com/other.jsonld"], ` + body + `}`,
	} {
		m := &dsp.ContractNegotiationEventMessage{ProviderPID: "unchanged"}
		if err := dsp.Decode([]byte(raw), m); dataport.KindOf(err) != dataport.KindInvalid || !strings.Contains(err.Error(), "@context") {
			t.Fatalf("%s: %v", raw, err)
		}
		if m.ProviderPID != "unchanged" {
			t.Fatalf("a refused message changed the value: %+v", m)
		}
	}
	var m dsp.ContractNegotiationEventMessage
	for _, ctx := range []string{`"https://w3id.org/dspace/2025/1/context.jsonld"`, `["https://w3id.org/dspace/2025/1/context.jsonld"]`} {
		if err := dsp.Decode([]byte(`{"@context": `+ctx+`, `+body+`}`), &m); err != nil || m.EventType != dsp.EventAccepted {
			t.Fatalf("with the context %s: %+v %v", ctx, m, err)
		}
	}
}

// Encode fills in what the kind fixes, leaves the caller's value alone, and
// writes nothing that fails the schema, naming the field.
func TestEncode(t *testing.T) {
	m := &dsp.ContractNegotiation{ProviderPID: "urn:uuid:p", ConsumerPID: "urn:uuid:c", State: dsp.NegotiationRequested}
	out, err := dsp.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "ContractNegotiation",
		"providerPid": "urn:uuid:p", "consumerPid": "urn:uuid:c", "state": "REQUESTED"}`
	if !jsonEqual(t, out, []byte(want)) {
		t.Fatalf("got %s", out)
	}
	if m.Type != "" || m.Context != nil {
		t.Fatalf("Encode changed its argument: %+v", m)
	}

	agreement := &dsp.ContractAgreementMessage{ProviderPID: "urn:uuid:p", ConsumerPID: "urn:uuid:c",
		Agreement: dsp.Policy{ID: "urn:uuid:a", Type: dsp.TypeAgreement, Target: "urn:uuid:d", Assigner: "urn:provider",
			Timestamp: "2026-01-01T00:00:00Z", Permission: []dsp.Rule{{Action: "use"}}}}
	_, err = dsp.Encode(agreement)
	if !hasProblem(err, "agreement.assignee", "required") {
		t.Fatalf("an agreement without its assignee: %v", err)
	}
	agreement.Agreement.Assignee = "urn:consumer"
	if _, err := dsp.Encode(agreement); err != nil {
		t.Fatal(err)
	}

	// Nested objects with a fixed type are typed without the caller's help.
	start := &dsp.TransferStartMessage{ProviderPID: "urn:p", ConsumerPID: "urn:c", DataAddress: &dsp.DataAddress{
		EndpointType: "https://w3id.org/idsa/v4.1/HTTP", Endpoint: "https://exchange.example/dsp/pull/1",
		EndpointProperties: []dsp.EndpointProperty{{Name: "authorization", Value: "t"}}}}
	out, err = dsp.Encode(start)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"@type":"DataAddress"`) || !strings.Contains(string(out), `"@type":"EndpointProperty"`) {
		t.Fatalf("got %s", out)
	}
	if v, ok := start.DataAddress.Property("authorization"); !ok || v != "t" {
		t.Fatalf("Property: %q %v", v, ok)
	}
}

// What another connector adds to a dataset, a distribution, a policy or a
// constraint is kept and written back unchanged.
func TestExtraPropertiesSurvive(t *testing.T) {
	raw := []byte(`{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@id": "urn:d", "@type": "Dataset",
		"dct:title": [{"@value": "Ship arrivals", "@language": "en"}], "dcat:byteSize": 12345678901234567890,
		"hasPolicy": [{"@id": "urn:o", "@type": "Offer", "odrl:uid": "x",
			"permission": [{"action": "use", "duty": [{"action": "compensate", "constraint": [{"leftOperand": "payAmount", "operator": "eq", "rightOperand": {"@value": "10.00", "@type": "xsd:decimal"}, "unit": "CNY"}]}]}]}],
		"distribution": [{"@type": "Distribution", "format": "HttpData-PULL", "accessService": "urn:s", "dct:title": "csv"}]}`)
	var d dsp.Dataset
	if err := dsp.Decode(raw, &d); err != nil {
		t.Fatal(err)
	}
	if d.Extra["dct:title"] == nil || d.HasPolicy[0].Extra["odrl:uid"] != "x" || d.Distribution[0].Extra["dct:title"] != "csv" ||
		d.HasPolicy[0].Permission[0].Duty[0].Constraint[0].Extra["unit"] != "CNY" {
		t.Fatalf("extra properties lost: %+v", d)
	}
	out, err := dsp.Encode(&d)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, out, raw) {
		t.Fatalf("written back as\n%s", out)
	}
	if !strings.Contains(string(out), "12345678901234567890") {
		t.Fatalf("a large number lost its digits: %s", out)
	}
}

// The moves of the messages that move a process.
func TestMoveOf(t *testing.T) {
	for m, want := range map[dsp.Message]string{
		&dsp.ContractRequestMessage{}:                                string(dsp.MoveContractRequest),
		&dsp.ContractNegotiationEventMessage{EventType: "ACCEPTED"}:  string(dsp.MoveEventAccepted),
		&dsp.ContractNegotiationEventMessage{EventType: "FINALIZED"}: string(dsp.MoveEventFinalized),
		&dsp.ContractNegotiationTerminationMessage{}:                 string(dsp.MoveNegotiationTermination),
		&dsp.TransferSuspensionMessage{}:                             string(dsp.MoveTransferSuspension),
		&dsp.TransferStartMessage{}:                                  string(dsp.MoveTransferStart),
	} {
		var got string
		var err error
		if strings.HasPrefix(m.MessageKind(), "Transfer") {
			var mv dsp.TransferMove
			mv, err = dsp.TransferMoveOf(m)
			got = string(mv)
		} else {
			var mv dsp.NegotiationMove
			mv, err = dsp.NegotiationMoveOf(m)
			got = string(mv)
		}
		if err != nil || got != want {
			t.Errorf("%T: %s, %v; want %s", m, got, err, want)
		}
	}
	if _, err := dsp.NegotiationMoveOf(&dsp.ContractNegotiationEventMessage{EventType: "PAUSED"}); !hasField(err, "eventType") {
		t.Errorf("unknown event: %v", err)
	}
	if _, err := dsp.NegotiationMoveOf(&dsp.TransferProcess{}); dataport.KindOf(err) != dataport.KindInvalid {
		t.Errorf("an ACK is no move: %v", err)
	}
	if _, err := dsp.TransferMoveOf(&dsp.ContractRequestMessage{}); dataport.KindOf(err) != dataport.KindInvalid {
		t.Errorf("a negotiation message is no transfer move: %v", err)
	}
}

// contexts serves the protocol's contexts to a JSON-LD processor of the test's
// own, a fresh copy each time (the processor changes what it is given).
type contexts map[string]any

func (c contexts) LoadDocument(u string) (*ld.RemoteDocument, error) {
	doc, ok := c[u]
	if !ok {
		return nil, fmt.Errorf("no context %s", u)
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: ld.CloneDocument(doc)}, nil
}

// PIDsOf reads the pids of every kind whose Go type has them (as fields with the
// protocol's JSON names).
func TestPIDsOf(t *testing.T) {
	for kind, fresh := range messageOf {
		m := fresh()
		if err := json.Unmarshal([]byte(`{"providerPid": "urn:p", "consumerPid": "urn:c"}`), m); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		wantP, wantC := "", ""
		typ := reflect.TypeOf(m).Elem()
		for i := range typ.NumField() {
			switch strings.Split(typ.Field(i).Tag.Get("json"), ",")[0] {
			case "providerPid":
				wantP = "urn:p"
			case "consumerPid":
				wantC = "urn:c"
			}
		}
		if p, c := dsp.PIDsOf(m); p != wantP || c != wantC {
			t.Errorf("%s: PIDsOf = %q, %q; its fields say %q, %q", kind, p, c, wantP, wantC)
		}
	}
}
