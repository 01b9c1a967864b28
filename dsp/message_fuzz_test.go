package dsp_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
)

// Any bytes a peer sends decode as the message their @type names (or, without one,
// as some kind chosen by their length) or are refused as invalid input; a message
// that decodes encodes to JSON that decodes to the same message and encodes to the
// same bytes again.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"CatalogRequestMessage","filter":[]}`,
		`{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"DatasetRequestMessage","dataset":"urn:uuid:3dd1add8-4d2d-569e-d634-8394a8836a88"}`,
		`{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"ContractRequestMessage","consumerPid":"urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833","offer":{"@id":"urn:uuid:d526561f-528e-4d5a-ae12-9a9dd9b7a815","target":"urn:uuid:3dd1add8-4d2d-569e-d634-8394a8836a88"},"callbackAddress":"https://example.com/callback"}`,
		`{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"ContractAgreementMessage","providerPid":"urn:uuid:a343fcbf-99fc-4ce8-8e9b-148c97605aab","consumerPid":"urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833","agreement":{"@id":"urn:uuid:e8dc8655-44c2-4e6b-8f5d-0b6d0a9d4a3e","target":"urn:uuid:3dd1add8-4d2d-569e-d634-8394a8836a88","timestamp":"2023-01-01T01:00:00Z","assigner":"urn:tsdshhs636378","assignee":"urn:jashd766","permission":[{"action":"use","constraint":[{"leftOperand":"dateTime","operator":"lteq","rightOperand":"2023-12-31T06:00:00Z"}]}]}}`,
		`{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"ContractNegotiationEventMessage","providerPid":"urn:uuid:a343fcbf-99fc-4ce8-8e9b-148c97605aab","consumerPid":"urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833","eventType":"ACCEPTED"}`,
		`{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"TransferRequestMessage","consumerPid":"urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833","agreementId":"urn:uuid:e8dc8655-44c2-4e6b-8f5d-0b6d0a9d4a3e","format":"HttpData-PULL","callbackAddress":"https://example.com/callback"}`,
		`{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"TransferStartMessage","providerPid":"urn:uuid:a343fcbf-99fc-4ce8-8e9b-148c97605aab","consumerPid":"urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833","dataAddress":{"@type":"DataAddress","endpointType":"https://w3id.org/idsa/v4.1/HTTP","endpoint":"https://exchange.example/dsp/pull/1","endpointProperties":[{"@type":"EndpointProperty","name":"authorization","value":"TOKEN-ABCDEFG"}]}}`,
		`{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"TransferError","consumerPid":"urn:uuid:32541fe6-c580-409e-85a8-8a9a32fbe833","providerPid":"urn:uuid:a343fcbf-99fc-4ce8-8e9b-148c97605aab","code":"123-A","reason":[{"@value":"x","@language":"en"}]}`,
		`{"@context":["https://w3id.org/dspace/2025/1/context.jsonld"],"@type":"https://w3id.org/dspace/2025/1/ContractNegotiationEventMessage","https://w3id.org/dspace/2025/1/eventType":"VERIFIED"}`,
		`{"@type":"CatalogRequestMessage"}`,
		`{"protocolVersions":[{"version":"2025-1","path":"/dsp","binding":"HTTPS"}]}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	kinds := dsp.Kinds()
	f.Fuzz(func(t *testing.T, raw []byte) {
		kind, err := dsp.KindOf(raw)
		if _, known := messageOf[kind]; err != nil || !known {
			kind = kinds[len(raw)%len(kinds)]
		}
		m := messageOf[kind]()
		if err := dsp.Decode(raw, m); err != nil {
			if dataport.KindOf(err) != dataport.KindInvalid {
				t.Fatalf("refused as %v, not invalid input: %v", dataport.KindOf(err), err)
			}
			return
		}
		out, err := dsp.Encode(m)
		if err != nil {
			t.Fatalf("decoded as %s to %+v, which does not encode: %v", kind, m, err)
		}
		again := messageOf[kind]()
		if err := dsp.Decode(out, again); err != nil {
			t.Fatalf("%s encodes to\n%s\nwhich does not decode: %v", raw, out, err)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("%s decodes to\n%+v\nencodes to\n%s\nwhich decodes to\n%+v", raw, m, out, again)
		}
		if out2, err := dsp.Encode(again); err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("encoded twice:\n%s\n%s (%v)", out, out2, err)
		}
	})
}

// An offer id reads only in the form OfferID writes, and writes back as it was.
func FuzzParseOfferID(f *testing.F) {
	for _, s := range []string{dsp.OfferID("prd_01JD6Z", 3, 0), dsp.OfferID("p", 9223372036854775807, 12),
		"urn:dataport:offer:p:01:0", "urn:dataport:offer:p:1:-0", "urn:dataport:offer::1:0", "urn:dataport:offer:a:b:1:2",
		"urn:dataport:offer:p:1:+1", "urn:dataport:product:p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		product, rev, plan, err := dsp.ParseOfferID(id)
		if err != nil {
			if dataport.KindOf(err) != dataport.KindInvalid {
				t.Fatalf("%q refused as %v: %v", id, dataport.KindOf(err), err)
			}
			return
		}
		if product == "" || rev < 1 || plan < 0 {
			t.Fatalf("%q reads as %q, %d, %d", id, product, rev, plan)
		}
		if back := dsp.OfferID(product, rev, plan); back != id {
			t.Fatalf("%q reads as %q, %d, %d, which writes as %q", id, product, rev, plan, back)
		}
	})
}
