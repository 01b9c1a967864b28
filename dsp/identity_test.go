package dsp_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// A protocol request is bound to the registered participant whose API key it
// presents; anything else is unauthorised, which the endpoints answer with 404.
// The registry is the real one, on a fresh database.
func TestAPIKeysBindRequestsToParticipants(t *testing.T) {
	ctx := context.Background()
	reg := registry.New(storetest.Open(t, store.SQLite, store.Options{}))
	_, opToken, _, err := reg.Bootstrap(ctx, registry.OperatorIdentity{LegalName: dataport.Bilingual{Zh: "测试交易所"}})
	if err != nil {
		t.Fatal(err)
	}
	operator, err := reg.Authenticate(ctx, opToken)
	if err != nil {
		t.Fatal(err)
	}
	connector, err := reg.CreateParticipant(ctx, operator, registry.NewParticipant{
		LegalName: dataport.Bilingual{En: "Nordic Data Space Connector AS"}, Jurisdiction: "NO",
		Kind: registry.Foreign, RegistrationNumber: "923609016", Roles: []dataport.Role{dataport.RoleBuyer}})
	if err != nil {
		t.Fatal(err)
	}
	key, token, err := reg.IssueKey(ctx, connector.ID, registry.NewAPIKey{Name: "dsp"})
	if err != nil {
		t.Fatal(err)
	}
	auth := dsp.APIKeys{Keys: reg}

	request := func(header string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/dsp/2025-1/negotiations/request", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		actor, err := auth.Authenticate(r)
		w := httptest.NewRecorder()
		if err != nil {
			dsp.WriteError(w, dsp.NegotiationProtocol, "", "urn:c", err)
			return w
		}
		if actor.ParticipantID != connector.ID || actor.KeyID != key.ID || !actor.Has(dataport.RoleBuyer) {
			t.Fatalf("%q authenticated as %+v", header, actor)
		}
		w.WriteHeader(200)
		return w
	}
	for _, h := range []string{"Bearer " + token, "bearer " + token, token} {
		if w := request(h); w.Code != 200 {
			t.Errorf("%q: %d %s", h, w.Code, w.Body)
		}
	}
	bt := dsp.BearerToken(token)
	r := httptest.NewRequest("GET", "https://exchange.example/dsp/2025-1/negotiations/urn:p", nil)
	if err := bt.Authorize(r); err != nil {
		t.Fatal(err)
	}
	if w := request(r.Header.Get("Authorization")); w.Code != 200 {
		t.Errorf("BearerToken's header: %d", w.Code)
	}

	if _, err := reg.RevokeAPIKey(ctx, operator, connector.ID, key.ID); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"", "Bearer " + token, "Basic " + token, "Bearer dp.key_nosuch.secret", "Bearer"} {
		w := request(h)
		if w.Code != 404 {
			t.Errorf("%q: %d, want 404", h, w.Code)
			continue
		}
		if err := dsp.Validate(dsp.KindNegotiationError, w.Body.Bytes()); err != nil {
			t.Errorf("%q: %v", h, err)
		}
		doc := anyJSON(t, w.Body.Bytes()).(map[string]any)
		if reason := doc["reason"].([]any); len(reason) != 1 || reason[0] != "not found" {
			t.Errorf("%q: the reason says more than not found: %v", h, reason)
		}
	}
	if err := dsp.BearerToken("").Authorize(r); dataport.KindOf(err) != dataport.KindInvalid {
		t.Errorf("an empty token: %v", err)
	}
	if a := (dsp.APIKeys{}).Auth(); a.Protocol != dsp.APIKeyScheme || a.Version != "1" {
		t.Errorf("Auth() = %+v", a)
	}
}
