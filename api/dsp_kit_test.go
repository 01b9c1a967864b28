package api_test

// The kit connector: the counter-party of the scenarios in which dataport is the
// consumer (dsp/SCENARIOS.md, CN_C and TP_C). The TCK's kit (K) is a provider
// connector; here it is a real HTTP server that plays one, against an exchange with
// the DSP consumer wired as serve wires it (a sealing key for peers' tokens, the
// harvest engine reading peers' catalogs).

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/api"
	"github.com/dataport/dataport/dsp"
	"github.com/dataport/dataport/store"
)

// consumerWorld is an exchange (newExchange, which has what the consumer side needs:
// the DSP sealing key, the blob store, the harvest engine over peers' catalogs) with a
// buyer that deals with other connectors. opts may change the server's dependencies.
type consumerWorld struct {
	*exchange
	buyerID string
	buyer   string // the buyer's API key
}

func newConsumerWorld(t *testing.T, opts ...func(*api.Deps)) *consumerWorld {
	t.Helper()
	return newConsumerWorldOn(t, store.SQLite, opts...)
}

// newConsumerWorldOn is newConsumerWorld on the storage engine given.
func newConsumerWorldOn(t *testing.T, engine store.Engine, opts ...func(*api.Deps)) *consumerWorld {
	t.Helper()
	w := &consumerWorld{exchange: newExchange(t, engine, opts...)}
	w.buyerID, w.buyer = w.createWithKey(tencent)
	return w
}

// kitConnector is the kit: a provider connector at <srv>/dsp, registered on the
// exchange as a participant (a foreign supplier unless newKit is told otherwise) with
// an API key its callbacks present (key), and as a peer whose token (token) the kit
// checks on every request it gets. Every message dataport sends it is decoded and
// validated with dsp.Decode, and one that does not validate fails the test; each is
// then put on got, in order. It serves the Catalog Protocol (a two-page catalog) and
// the Contract Negotiation Protocol's provider endpoints, running the provider's state
// machine as a provider would; tests of other protocols add their endpoints to mux
// (handle decodes, checks and records as the kit's own endpoints do).
type kitConnector struct {
	t     *testing.T
	x     *exchange
	srv   *httptest.Server
	mux   *http.ServeMux
	id    string // its participant on the exchange
	key   string // the API key the exchange issued to it
	token string // the token it issued to the exchange
	got   chan dsp.Message

	mu           sync.Mutex
	negotiations map[string]*kitNegotiation // by provider pid
	refusal      *dsp.ContractNegotiationError
	pids         atomic.Int64
}

// kitNegotiation is a negotiation as the kit holds it.
type kitNegotiation struct {
	providerPID, consumerPID, callback string
	state                              dsp.NegotiationState
	offer                              dsp.Policy
}

var kitRegistrations atomic.Int64

// newKit starts a kit and registers it with x: as the participant body describes
// (nil: a foreign supplier), with an API key, and as a peer at <kit>/dsp.
func newKit(t *testing.T, x *exchange, body map[string]any) *kitConnector {
	t.Helper()
	if body == nil {
		body = map[string]any{"legal_name": map[string]any{"en": "Kit Connector GmbH"}, "jurisdiction": "DE", "kind": "foreign",
			"registration_number": fmt.Sprintf("HRB %d", 10000+kitRegistrations.Add(1)), "roles": []string{"supplier"}}
	}
	k := &kitConnector{t: t, x: x, mux: http.NewServeMux(), got: make(chan dsp.Message, 64),
		token: "kit-token-" + dataport.NewID("k"), negotiations: map[string]*kitNegotiation{}}
	k.srv = httptest.NewServer(k.mux)
	t.Cleanup(k.srv.Close)
	k.id, k.key = x.createWithKey(body)
	r := x.do("POST", "/api/v1/dsp/peers", x.operator, map[string]any{"participant_id": k.id, "address": k.srv.URL + "/dsp", "token": k.token})
	wantStatus(t, r, http.StatusCreated)

	k.handle("POST /dsp/catalog/request", func() dsp.Message { return &dsp.CatalogRequestMessage{} }, k.serveCatalog)
	k.handle("POST /dsp/negotiations/request", func() dsp.Message { return &dsp.ContractRequestMessage{} }, k.serveRequest)
	for suffix, fresh := range map[string]func() dsp.Message{
		"request":                func() dsp.Message { return &dsp.ContractRequestMessage{} },
		"events":                 func() dsp.Message { return &dsp.ContractNegotiationEventMessage{} },
		"agreement/verification": func() dsp.Message { return &dsp.ContractAgreementVerificationMessage{} },
		"termination":            func() dsp.Message { return &dsp.ContractNegotiationTerminationMessage{} },
	} {
		k.handle("POST /dsp/negotiations/{providerPid}/"+suffix, fresh, k.serveConsumerMove)
	}
	return k
}

// handle serves pattern: the request must carry the kit's token (else 401, and the test
// fails) and its body be a valid message of fresh's kind (else 400, and the test
// fails); the message is put on got and serve answers it.
func (k *kitConnector) handle(pattern string, fresh func() dsp.Message, serve func(http.ResponseWriter, *http.Request, dsp.Message)) {
	k.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+k.token {
			k.t.Errorf("dataport called %s without the kit's token (Authorization %q)", r.URL.Path, got)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		m := fresh()
		if err := dsp.Decode(raw, m); err != nil {
			k.t.Errorf("dataport sent %s a %s that does not validate: %v\n%s", r.URL.Path, m.MessageKind(), err, raw)
			protocol := dsp.NegotiationProtocol
			if strings.HasPrefix(m.MessageKind(), "Transfer") {
				protocol = dsp.TransferProcessProtocol
			} else if strings.HasPrefix(m.MessageKind(), "Catalog") {
				protocol = dsp.CatalogProtocol
			}
			dsp.WriteError(w, protocol, "", "", err)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			k.t.Errorf("dataport sent %s with Content-Type %q", r.URL.Path, ct)
		}
		k.got <- m
		serve(w, r, m)
	})
}

// next returns the next message dataport sent the kit.
func (k *kitConnector) next() dsp.Message {
	k.t.Helper()
	select {
	case m := <-k.got:
		return m
	case <-time.After(10 * time.Second):
		k.t.Fatal("dataport sent the kit nothing")
		return nil
	}
}

// none checks that dataport sent the kit nothing more.
func (k *kitConnector) none() {
	k.t.Helper()
	select {
	case m := <-k.got:
		k.t.Fatalf("dataport sent the kit a %s", m.MessageKind())
	default:
	}
}

// send posts the kit's message m to dataport's callback address (<exchange>/dsp/callback,
// what dataport gives in its requests) + path, e.g. "/negotiations/<consumerPid>/offers",
// with the kit's API key.
func (k *kitConnector) send(path string, m dsp.Message) response {
	k.t.Helper()
	body, err := dsp.Encode(m)
	if err != nil {
		k.t.Fatalf("the kit's %s: %v", m.MessageKind(), err)
	}
	return k.x.do("POST", "/dsp/callback"+path, k.key, body)
}

// refuse makes the kit refuse the next contract requests with e (nil: accept them).
func (k *kitConnector) refuse(e *dsp.ContractNegotiationError) {
	k.mu.Lock()
	k.refusal = e
	k.mu.Unlock()
}

// negotiation returns the kit's negotiation of providerPID.
func (k *kitConnector) negotiation(providerPID string) *kitNegotiation {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.negotiations[providerPID]
	if n == nil {
		k.t.Fatalf("the kit has no negotiation %s", providerPID)
	}
	return n
}

// moved records the kit's own move, which dataport acknowledged.
func (k *kitConnector) moved(providerPID string, state dsp.NegotiationState) {
	k.mu.Lock()
	k.negotiations[providerPID].state = state
	k.mu.Unlock()
}

// The kit's catalog: two pages (the first links the second with rel="next"), three
// datasets, each with one offer.
func (k *kitConnector) serveCatalog(w http.ResponseWriter, r *http.Request, _ dsp.Message) {
	cat := dsp.Catalog{ID: k.srv.URL + "/dsp/catalog", ParticipantID: "did:web:kit.example",
		Service: []dsp.DataService{{ID: k.srv.URL + "/dsp", EndpointURL: k.srv.URL + "/dsp"}}}
	if r.URL.Query().Get("page") == "" {
		w.Header().Set("Link", "<"+k.srv.URL+`/dsp/catalog/request?page=2>; rel="next"`)
		cat.Dataset = []dsp.Dataset{k.dataset("tides", "Tide gauges, hourly"), k.dataset("berths", "Berth occupancy")}
	} else {
		cat.Dataset = []dsp.Dataset{k.dataset("fuel", "Bunker fuel prices")}
	}
	dsp.WriteMessage(w, http.StatusOK, &cat)
}

// kitDataset is the @id of the kit's dataset name, and kitOffer that of its offer.
func kitDataset(name string) string { return "urn:kit:dataset:" + name }
func kitOffer(name string) string   { return "urn:kit:offer:" + name }

func (k *kitConnector) dataset(name, title string) dsp.Dataset {
	return dsp.Dataset{ID: kitDataset(name),
		HasPolicy:    []dsp.Policy{kitPolicy(name, "")},
		Distribution: []dsp.Distribution{{Format: dsp.FormatPull, AccessService: dsp.AccessService{Ref: k.srv.URL + "/dsp"}}},
		Extra: dsp.Extra{"dct:title": []any{map[string]any{"@value": title, "@language": "en"}},
			"dct:description": title + ", from the kit's connector.", "dcat:keyword": []any{"ports"}}}
}

// kitPolicy is the kit's offer for dataset name: use for research, paying amount (none
// when empty).
func kitPolicy(name, amount string) dsp.Policy {
	perm := dsp.Rule{Action: "use", Constraint: []dsp.Constraint{{LeftOperand: "odrl:purpose", Operator: "eq", RightOperand: "research"}}}
	if amount != "" {
		perm.Duty = []dsp.Rule{{Action: "odrl:compensate", Constraint: []dsp.Constraint{{LeftOperand: "odrl:payAmount", Operator: "eq",
			RightOperand: map[string]any{"@value": amount, "@type": "xsd:decimal"}}}}}
	}
	return dsp.Policy{ID: kitOffer(name), Type: dsp.TypeOffer, Permission: []dsp.Rule{perm}}
}

// serveRequest opens a negotiation with a provider pid of the kit's, unless the kit
// refuses requests.
func (k *kitConnector) serveRequest(w http.ResponseWriter, r *http.Request, m dsp.Message) {
	msg := m.(*dsp.ContractRequestMessage)
	if want := k.x.srv.URL + "/dsp/callback"; msg.CallbackAddress != want || msg.ProviderPID != "" {
		k.t.Errorf("the request's callbackAddress %q (want %q), providerPid %q", msg.CallbackAddress, want, msg.ProviderPID)
	}
	k.mu.Lock()
	refusal := k.refusal
	k.mu.Unlock()
	if refusal != nil {
		e := *refusal
		e.ConsumerPID = msg.ConsumerPID
		dsp.WriteMessage(w, http.StatusBadRequest, &e)
		return
	}
	n := &kitNegotiation{providerPID: fmt.Sprintf("urn:kit:negotiation:%d", k.pids.Add(1)), consumerPID: msg.ConsumerPID,
		callback: msg.CallbackAddress, state: dsp.NegotiationRequested, offer: msg.Offer}
	k.mu.Lock()
	k.negotiations[n.providerPID] = n
	k.mu.Unlock()
	dsp.WriteMessage(w, http.StatusCreated, &dsp.ContractNegotiation{ProviderPID: n.providerPID, ConsumerPID: n.consumerPID, State: n.state})
}

// serveConsumerMove takes the consumer's message on a negotiation as a provider does:
// the pids those of the path's negotiation, the move one the provider's state machine
// admits from the consumer. dataport checks its moves before sending them, so a
// refusal here fails the test.
func (k *kitConnector) serveConsumerMove(w http.ResponseWriter, r *http.Request, m dsp.Message) {
	pid := r.PathValue("providerPid")
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.negotiations[pid]
	if n == nil {
		k.t.Errorf("dataport sent a %s for negotiation %s, which the kit does not have", m.MessageKind(), pid)
		dsp.WriteError(w, dsp.NegotiationProtocol, pid, "", dataport.Errorf("kit", dataport.KindNotFound, "no negotiation %s", pid))
		return
	}
	provider, consumer := dsp.PIDsOf(m)
	if provider != n.providerPID || consumer != n.consumerPID {
		k.t.Errorf("dataport's %s names %s/%s on negotiation %s/%s", m.MessageKind(), provider, consumer, n.providerPID, n.consumerPID)
	}
	move, err := dsp.NegotiationMoveOf(m)
	if err == nil {
		var next dsp.NegotiationState
		if next, err = n.state.Next(dsp.Consumer, move); err == nil {
			n.state = next
			if req, ok := m.(*dsp.ContractRequestMessage); ok {
				n.offer = req.Offer
			}
			dsp.WriteMessage(w, http.StatusOK, &dsp.ContractNegotiation{ProviderPID: n.providerPID, ConsumerPID: n.consumerPID, State: n.state})
			return
		}
	}
	k.t.Errorf("dataport sent a %s the kit's negotiation (%s) does not admit: %v", m.MessageKind(), n.state, err)
	dsp.WriteError(w, dsp.NegotiationProtocol, n.providerPID, n.consumerPID, err)
}

// harvestDomestic is a domestic supplier's registration, for a kit whose catalog the
// exchange harvests (a foreign platform lists through an agent, R22).
func harvestDomestic() map[string]any {
	return map[string]any{"legal_name": map[string]any{"zh": "上海港数据服务有限公司"}, "jurisdiction": "CN", "kind": "domestic",
		"uscc": mustUSCC("91310115MA1K2XH01"), "roles": []string{"supplier"}}
}

// lines splits a JSON-lines body.
func lines(body []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
