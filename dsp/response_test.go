package dsp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
)

// Each kind of failure gets the status the HTTPS bindings require and a code,
// and a caller that may not see a process learns nothing more than "not found".
func TestStatusAndCode(t *testing.T) {
	for _, c := range []struct {
		kind   dataport.Kind
		status int
		code   string
	}{
		{dataport.KindInvalid, 400, dsp.CodeInvalidMessage},
		{dataport.KindConflict, 400, dsp.CodeInvalidState},
		{dataport.KindNotFound, 404, dsp.CodeNotFound},
		{dataport.KindUnauthorized, 404, dsp.CodeNotFound},
		{dataport.KindForbidden, 404, dsp.CodeNotFound},
		{dataport.KindTooLarge, 413, dsp.CodeTooLarge},
		{dataport.KindUnavailable, 503, dsp.CodeUnavailable},
		{dataport.KindInternal, 500, dsp.CodeInternal},
	} {
		err := dataport.Errorf("test", c.kind, "secret detail")
		if got := dsp.StatusOf(err); got != c.status {
			t.Errorf("%s: status %d, want %d", c.kind, got, c.status)
		}
		if got := dsp.CodeOf(err); got != c.code {
			t.Errorf("%s: code %s, want %s", c.kind, got, c.code)
		}
	}
	if dsp.StatusOf(errors.New("a bug")) != 500 {
		t.Error("an error of no kind is internal")
	}
}

// The error response of each protocol is that protocol's error message, which
// validates, with both pids, the code and the reasons: the message and each
// field problem.
func TestWriteError(t *testing.T) {
	invalid := dataport.Invalid("test", dataport.FieldProblem{Field: "offer.@id", Message: "required"})
	for _, c := range []struct {
		p        dsp.Protocol
		kind     string
		err      error
		status   int
		reasons  []string
		withPIDs bool
	}{
		{dsp.NegotiationProtocol, dsp.KindNegotiationError, invalid, 400, []string{"invalid input", "offer.@id: required"}, true},
		{dsp.TransferProcessProtocol, dsp.KindTransferError, dataport.Errorf("t", dataport.KindConflict, "not now"), 400, []string{"not now"}, true},
		{dsp.CatalogProtocol, dsp.KindCatalogError, dataport.Errorf("t", dataport.KindNotFound, "no dataset urn:d"), 404, []string{"no dataset urn:d"}, false},
		{dsp.NegotiationProtocol, dsp.KindNegotiationError, dataport.Errorf("t", dataport.KindForbidden, "deal of buyer X"), 404, []string{"not found"}, true},
		{dsp.TransferProcessProtocol, dsp.KindTransferError, dataport.Internal("t", errors.New("disk on fire")), 500, []string{"internal error"}, true},
	} {
		w := httptest.NewRecorder()
		if err := dsp.WriteError(w, c.p, "urn:p", "urn:c", c.err); err != nil {
			t.Fatal(err)
		}
		if w.Code != c.status || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s", c.kind, w.Code, w.Header().Get("Content-Type"))
		}
		body := w.Body.Bytes()
		if err := dsp.Validate(c.kind, body); err != nil {
			t.Errorf("%s does not validate: %v\n%s", c.kind, err, body)
		}
		doc := anyJSON(t, body).(map[string]any)
		var reasons []string
		for _, r := range doc["reason"].([]any) {
			reasons = append(reasons, r.(string))
		}
		if !slices.Equal(reasons, c.reasons) || doc["code"] != dsp.CodeOf(c.err) {
			t.Errorf("%s: code %v, reasons %q; want %s, %q", c.kind, doc["code"], reasons, dsp.CodeOf(c.err), c.reasons)
		}
		if c.withPIDs && (doc["providerPid"] != "urn:p" || doc["consumerPid"] != "urn:c") {
			t.Errorf("%s: pids %v %v", c.kind, doc["providerPid"], doc["consumerPid"])
		}
		if strings.Contains(string(body), "deal of buyer") || strings.Contains(string(body), "disk on fire") {
			t.Errorf("%s leaks: %s", c.kind, body)
		}
	}
	// Before the provider has a pid, the error still validates: the schema asks
	// for the properties.
	w := httptest.NewRecorder()
	dsp.WriteError(w, dsp.NegotiationProtocol, "", "urn:c", invalid)
	if err := dsp.Validate(dsp.KindNegotiationError, w.Body.Bytes()); err != nil {
		t.Error(err)
	}
}

// A message that fails its own schema is not sent.
func TestWriteMessageRefusesInvalid(t *testing.T) {
	w := httptest.NewRecorder()
	err := dsp.WriteMessage(w, 200, &dsp.ContractNegotiation{ProviderPID: "urn:p", ConsumerPID: "urn:c", State: "PENDING"})
	if err == nil || w.Code != 500 || w.Body.Len() != 0 {
		t.Fatalf("%v: %d %q", err, w.Code, w.Body)
	}
	if !hasField(err, "state") {
		t.Fatalf("the error does not name the field: %v", err)
	}
}

// ReadMessage reads a request into a message: the JSON-LD interpretation and
// validation of Decode, and a bound on the size.
func TestReadMessage(t *testing.T) {
	ok := `{"@context": ["https://w3id.org/dspace/2025/1/context.jsonld"], "@type": "ContractAgreementVerificationMessage",
		"providerPid": "urn:p", "consumerPid": "urn:c"}`
	var m dsp.ContractAgreementVerificationMessage
	if err := dsp.ReadMessage(httptest.NewRequest("POST", "/negotiations/urn:p/agreement/verification", strings.NewReader(ok)), &m); err != nil {
		t.Fatal(err)
	}
	if m.ProviderPID != "urn:p" || m.ConsumerPID != "urn:c" {
		t.Fatalf("read %+v", m)
	}

	bad := strings.Replace(ok, `"consumerPid": "urn:c"`, `"consumer": "urn:c"`, 1)
	err := dsp.ReadMessage(httptest.NewRequest("POST", "/", strings.NewReader(bad)), &m)
	if dsp.StatusOf(err) != http.StatusBadRequest || !hasProblem(err, "consumerPid", "required") {
		t.Fatalf("invalid: %v", err)
	}

	big := strings.Replace(ok, `"urn:c"`, `"urn:`+strings.Repeat("c", dsp.MaxMessageBytes)+`"`, 1)
	err = dsp.ReadMessage(httptest.NewRequest("POST", "/", strings.NewReader(big)), &m)
	if dsp.StatusOf(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("too large: %v", err)
	}
}
