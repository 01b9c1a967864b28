package dsp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
)

// The client posts a message only once it validates, and reads a refusal.
func TestClientPost(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		got = append(got, r.URL.Path)
		if strings.HasSuffix(r.URL.Path, "/refuse") {
			dsp.WriteError(w, dsp.NegotiationProtocol, "urn:p", "urn:c", dataport.Errorf("test", dataport.KindConflict, "not now"))
			return
		}
		var m dsp.ContractNegotiationEventMessage
		if err := dsp.Decode(raw, &m); err != nil {
			t.Errorf("posted %s: %v", raw, err)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	c := &dsp.Client{HTTP: srv.Client(), Credentials: dsp.BearerToken("k")}
	ctx := context.Background()
	ok := &dsp.ContractNegotiationEventMessage{ProviderPID: "urn:p", ConsumerPID: "urn:c", EventType: dsp.EventFinalized}
	if err := c.Post(ctx, srv.URL+"/negotiations/urn:c/events", ok); err != nil {
		t.Fatal(err)
	}
	if err := c.Post(ctx, srv.URL+"/negotiations/urn:c/refuse", ok); err == nil || !strings.Contains(err.Error(), dsp.CodeInvalidState) {
		t.Fatalf("a refusal: %v", err)
	}
	bad := &dsp.ContractNegotiationEventMessage{ProviderPID: "urn:p", ConsumerPID: "urn:c"} // no event type
	if err := c.Post(ctx, srv.URL+"/negotiations/urn:c/events", bad); dataport.KindOf(err) != dataport.KindInvalid {
		t.Fatalf("an invalid message: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("posted %v: the invalid message must not be sent", got)
	}
}
