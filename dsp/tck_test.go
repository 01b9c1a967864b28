package dsp_test

// The scenarios of the DSP Technology Compatibility Kit (TCK-SCENARIOS.txt in the
// release's shared data), one test per scenario id, named with it. SCENARIOS.md
// says for every id what it tests, what dataport needs for it, and whether it
// runs here yet.
//
// What runs now is every scenario dataport's protocol layer decides alone: the
// version metadata (MET), and the negative negotiation and transfer scenarios
// (CN:03, CN_C:03, TP:03, TP_C:03), in which the counter-party sends a message
// the process's state does not admit and dataport must answer 400 with the
// protocol's error message and change nothing. They run the protocol as the two
// connectors exchange it: each message is built as its Go type, encoded and
// validated (Encode), decoded and validated by the receiver (Decode), checked
// against the receiver's state machine (Next), and answered with the ACK or the
// error message (WriteMessage, WriteError), which the sender decodes and
// validates in turn. The side under test ("dataport") checks every message it
// sends and receives; the kit's side checks nothing, so that it can send what a
// faulty connector would. The processes live in memory here: when the
// endpoints exist, the same step tables are to be played against a running
// dataport over HTTP (SCENARIOS.md, "Wiring").

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dataport/dataport/dsp"
)

// MET:01-01: Verify metadata request.
func TestTCK_MET_01_01(t *testing.T) {
	h, err := dsp.VersionHandler(dsp.Metadata("/dsp/2025-1", dsp.APIKeys{}))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(dsp.WellKnownPath, h)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/.well-known/dspace-version") // no Authorization: the endpoint is public
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var v dsp.VersionResponse
	if err := dsp.Decode(body, &v); err != nil {
		t.Fatalf("the metadata does not validate: %v\n%s", err, body)
	}
	found := false
	for _, pv := range v.ProtocolVersions {
		if pv.Version == "2025-1" && strings.HasPrefix(pv.Path, "/") && pv.Binding == "HTTPS" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no 2025-1 version with an absolute path: %s", body)
	}
}

// step is one message of a scenario: who sends which move, and whether the
// receiver must refuse it.
type step struct {
	by     dsp.Role
	move   string // a NegotiationMove or a TransferMove
	refuse bool
}

var (
	C, P = dsp.Consumer, dsp.Provider

	request      = string(dsp.MoveContractRequest)
	offer        = string(dsp.MoveContractOffer)
	agreement    = string(dsp.MoveContractAgreement)
	verification = string(dsp.MoveAgreementVerification)
	accepted     = string(dsp.MoveEventAccepted)
	finalized    = string(dsp.MoveEventFinalized)
	terminate    = string(dsp.MoveNegotiationTermination)

	transferRequest = string(dsp.MoveTransferRequest)
	start           = string(dsp.MoveTransferStart)
	completion      = string(dsp.MoveTransferCompletion)
	suspension      = string(dsp.MoveTransferSuspension)
	tpTerminate     = string(dsp.MoveTransferTermination)
)

func refused(by dsp.Role, move string) step { return step{by: by, move: move, refuse: true} }

// CN:03-01: Verify contract request, provider agreement, consumer verified, provider finalized, invalid consumer terminated.
func TestTCK_CN_03_01(t *testing.T) {
	negotiate(t, P, step{C, request, false}, step{P, agreement, false}, step{C, verification, false}, step{P, finalized, false},
		refused(C, terminate))
}

// CN:03-02: Verify contract request, offer received, invalid consumer verified.
func TestTCK_CN_03_02(t *testing.T) {
	negotiate(t, P, step{C, request, false}, step{P, offer, false}, refused(C, verification))
}

// CN:03-03: Verify contract request, offer received, consumer accepted, illegal consumer verified.
func TestTCK_CN_03_03(t *testing.T) {
	negotiate(t, P, step{C, request, false}, step{P, offer, false}, step{C, accepted, false}, refused(C, verification))
}

// CN:03-04: Verify contract request, offer received, consumer counter-offer (x2), provider terminated.
// The second counter-offer comes before the provider answered the first:
// REQUESTED admits no request. The negotiation lives on, and the provider ends it.
func TestTCK_CN_03_04(t *testing.T) {
	negotiate(t, P, step{C, request, false}, step{P, offer, false}, step{C, request, false}, refused(C, request),
		step{P, terminate, false})
}

// CN_C:03-01: Verify contract request, invalid provider finalized.
func TestTCK_CN_C_03_01(t *testing.T) {
	negotiate(t, C, step{C, request, false}, refused(P, finalized))
}

// CN_C:03-02: Verify contract request, offer received, invalid provider agreed.
func TestTCK_CN_C_03_02(t *testing.T) {
	negotiate(t, C, step{C, request, false}, step{P, offer, false}, refused(P, agreement))
}

// CN_C:03-03: Verify contract request, offer received, invalid provider finalized.
func TestTCK_CN_C_03_03(t *testing.T) {
	negotiate(t, C, step{C, request, false}, step{P, offer, false}, refused(P, finalized))
}

// CN_C:03-04: Verify contract request, offer received, consumer accepted, invalid provider finalized.
func TestTCK_CN_C_03_04(t *testing.T) {
	negotiate(t, C, step{C, request, false}, step{P, offer, false}, step{C, accepted, false}, refused(P, finalized))
}

// CN_C:03-05: Verify contract request, offer received, consumer accepted, invalid provider offer.
func TestTCK_CN_C_03_05(t *testing.T) {
	negotiate(t, C, step{C, request, false}, step{P, offer, false}, step{C, accepted, false}, refused(P, offer))
}

// CN_C:03-06: Verify contract request, offer received, consumer accepted, provider agreed, invalid provider finalized.
func TestTCK_CN_C_03_06(t *testing.T) {
	negotiate(t, C, step{C, request, false}, step{P, offer, false}, step{C, accepted, false}, step{P, agreement, false},
		refused(P, finalized))
}

// TP:03-01: Verify transfer request, consumer completed.
func TestTCK_TP_03_01(t *testing.T) {
	transfer(t, P, step{C, transferRequest, false}, refused(C, completion))
}

// TP:03-02: Verify transfer request, consumer suspended.
func TestTCK_TP_03_02(t *testing.T) {
	transfer(t, P, step{C, transferRequest, false}, refused(C, suspension))
}

// TP:03-03: Verify transfer request, provider started, consumer suspended, consumer completed.
func TestTCK_TP_03_03(t *testing.T) {
	transfer(t, P, step{C, transferRequest, false}, step{P, start, false}, step{C, suspension, false}, refused(C, completion))
}

// TP:03-04: Verify transfer request, provider started, consumer terminated, consumer started.
func TestTCK_TP_03_04(t *testing.T) {
	transfer(t, P, step{C, transferRequest, false}, step{P, start, false}, step{C, tpTerminate, false}, refused(C, start))
}

// TP:03-05: Verify transfer request, provider started, consumer terminated, consumer suspended.
func TestTCK_TP_03_05(t *testing.T) {
	transfer(t, P, step{C, transferRequest, false}, step{P, start, false}, step{C, tpTerminate, false}, refused(C, suspension))
}

// TP:03-06: Verify transfer request, provider started, consumer terminated, consumer completed.
func TestTCK_TP_03_06(t *testing.T) {
	transfer(t, P, step{C, transferRequest, false}, step{P, start, false}, step{C, tpTerminate, false}, refused(C, completion))
}

// TP_C:03-01: Verify transfer request, provider completed.
func TestTCK_TP_C_03_01(t *testing.T) {
	transfer(t, C, step{C, transferRequest, false}, refused(P, completion))
}

// TP_C:03-02: Verify transfer request, provider suspended.
func TestTCK_TP_C_03_02(t *testing.T) {
	transfer(t, C, step{C, transferRequest, false}, refused(P, suspension))
}

// TP_C:03-03: Verify transfer request, provider started, provider suspended, provider completed.
func TestTCK_TP_C_03_03(t *testing.T) {
	transfer(t, C, step{C, transferRequest, false}, step{P, start, false}, step{P, suspension, false}, refused(P, completion))
}

// TP_C:03-04: Verify transfer request, provider started, provider terminated, provider started.
func TestTCK_TP_C_03_04(t *testing.T) {
	transfer(t, C, step{C, transferRequest, false}, step{P, start, false}, step{P, tpTerminate, false}, refused(P, start))
}

// TP_C:03-05: Verify transfer request, provider started, provider terminated, provider suspended.
func TestTCK_TP_C_03_05(t *testing.T) {
	transfer(t, C, step{C, transferRequest, false}, step{P, start, false}, step{P, tpTerminate, false}, refused(P, suspension))
}

// TP_C:03-06: Verify transfer request, provider started, provider terminated, provider completed.
func TestTCK_TP_C_03_06(t *testing.T) {
	transfer(t, C, step{C, transferRequest, false}, step{P, start, false}, step{P, tpTerminate, false}, refused(P, completion))
}

// party is one connector's view of a process: its role, its pid, the peer's
// pid once known, and the state.
type party[S ~string] struct {
	role      dsp.Role
	pid       string
	peerPID   string
	state     S
	underTest bool
}

func (p *party[S]) pids() (provider, consumer string) {
	if p.role == dsp.Provider {
		return p.pid, p.peerPID
	}
	return p.peerPID, p.pid
}

func newPID(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// negotiate plays a contract negotiation scenario between dataport, in role dut,
// and the kit.
func negotiate(t *testing.T, dut dsp.Role, steps ...step) {
	t.Helper()
	parties := map[dsp.Role]*party[dsp.NegotiationState]{
		dsp.Provider: {role: dsp.Provider, pid: newPID(t), underTest: dut == dsp.Provider},
		dsp.Consumer: {role: dsp.Consumer, pid: newPID(t), underTest: dut == dsp.Consumer},
	}
	for i, st := range steps {
		from, to := parties[st.by], parties[st.by.Other()]
		move := dsp.NegotiationMove(st.move)
		if st.refuse && from.underTest {
			t.Fatalf("step %d: the scenario has dataport send a message it must refuse", i)
		}
		if from.underTest {
			if _, err := from.state.Next(from.role, move); err != nil {
				t.Fatalf("step %d: dataport would not send %s: %v", i, move, err)
			}
		}
		msg := negotiationMessage(t, move, from)
		raw, err := dsp.Encode(msg)
		if err != nil {
			t.Fatalf("step %d: %s does not validate: %v", i, move, err)
		}
		before := to.state
		status, body := receiveNegotiation(t, to, from.role, raw, msg.MessageKind())
		if st.refuse {
			var e dsp.ContractNegotiationError
			if status != http.StatusBadRequest {
				t.Fatalf("step %d: %s in %s answered %d %s; want 400", i, move, before, status, body)
			}
			if err := dsp.Decode(body, &e); err != nil {
				t.Fatalf("step %d: the error body is no ContractNegotiationError: %v\n%s", i, err, body)
			}
			prov, cons := to.pids()
			if e.Code != dsp.CodeInvalidState || e.ProviderPID != prov || e.ConsumerPID != cons || len(e.Reason) == 0 ||
				!strings.Contains(fmt.Sprint(e.Reason[0]), string(before)) {
				t.Fatalf("step %d: error %+v", i, e)
			}
			if to.state != before || from.state != before {
				t.Fatalf("step %d: a refused %s moved the negotiation from %s to %s/%s", i, move, before, to.state, from.state)
			}
			continue
		}
		if status != http.StatusOK && status != http.StatusCreated {
			t.Fatalf("step %d: %s in %q answered %d %s", i, move, before, status, body)
		}
		var ack dsp.ContractNegotiation
		if err := dsp.Decode(body, &ack); err != nil {
			t.Fatalf("step %d: the ACK is no ContractNegotiation: %v\n%s", i, err, body)
		}
		if from.peerPID == "" {
			from.peerPID = map[dsp.Role]string{dsp.Provider: ack.ProviderPID, dsp.Consumer: ack.ConsumerPID}[to.role]
		}
		from.state = ack.State // the sender's state follows the acknowledged message
		if from.state != to.state {
			t.Fatalf("step %d: the parties disagree: %s and %s", i, from.state, to.state)
		}
	}
}

// receiveNegotiation is the receiving connector: decode and validate, check the
// state machine (the kit's side accepts whatever it is sent), answer with the
// ACK or the error.
func receiveNegotiation(t *testing.T, to *party[dsp.NegotiationState], sender dsp.Role, raw []byte, kind string) (int, []byte) {
	t.Helper()
	w := httptest.NewRecorder()
	msg := messageOf[kind]()
	if err := dsp.Decode(raw, msg); err != nil {
		prov, cons := to.pids()
		dsp.WriteError(w, dsp.NegotiationProtocol, prov, cons, err)
		return w.Code, w.Body.Bytes()
	}
	move, err := dsp.NegotiationMoveOf(msg)
	if err != nil {
		t.Fatal(err)
	}
	if to.peerPID == "" {
		to.peerPID = peerPIDOf(msg, to.role)
	}
	created := to.state == ""
	next, err := to.state.Next(sender, move)
	if err != nil && to.underTest {
		prov, cons := to.pids()
		dsp.WriteError(w, dsp.NegotiationProtocol, prov, cons, err)
		return w.Code, w.Body.Bytes()
	}
	if err != nil {
		t.Fatalf("the kit's side refuses %s in %s: the scenario is wrong: %v", move, to.state, err)
	}
	to.state = next
	prov, cons := to.pids()
	status := http.StatusOK
	if created {
		status = http.StatusCreated // a new negotiation ("The Provider must return an HTTP 201 (Created)")
	}
	if err := dsp.WriteMessage(w, status, &dsp.ContractNegotiation{ProviderPID: prov, ConsumerPID: cons, State: next}); err != nil {
		t.Fatal(err)
	}
	return w.Code, w.Body.Bytes()
}

// peerPIDOf is the counter-party's pid as a message names it.
func peerPIDOf(m dsp.Message, receiver dsp.Role) string {
	raw, _ := dsp.Encode(m)
	var pids struct {
		Provider string `json:"providerPid"`
		Consumer string `json:"consumerPid"`
	}
	_ = json.Unmarshal(raw, &pids)
	if receiver == dsp.Provider {
		return pids.Consumer
	}
	return pids.Provider
}

// negotiationMessage builds the message for a move as the sender would send it.
func negotiationMessage(t *testing.T, move dsp.NegotiationMove, from *party[dsp.NegotiationState]) dsp.Message {
	t.Helper()
	prov, cons := from.pids()
	const dataset = "urn:uuid:3dd1add8-4d2d-569e-d634-8394a8836a88"
	terms := []dsp.Rule{{Action: "use", Constraint: []dsp.Constraint{{LeftOperand: "purpose", Operator: "isAnyOf", RightOperand: []any{"research"}}}}}
	switch move {
	case dsp.MoveContractRequest:
		m := &dsp.ContractRequestMessage{ProviderPID: prov, ConsumerPID: cons,
			Offer: dsp.Policy{ID: dataset + ":offer", Type: dsp.TypeOffer, Target: dataset, Permission: terms}}
		if prov == "" {
			m.CallbackAddress = "https://consumer.example/callback"
		}
		return m
	case dsp.MoveContractOffer:
		m := &dsp.ContractOfferMessage{ProviderPID: prov, ConsumerPID: cons,
			Offer: dsp.Policy{ID: dataset + ":offer:2", Type: dsp.TypeOffer, Target: dataset, Permission: terms}}
		if cons == "" {
			m.CallbackAddress = "https://provider.example/callback"
		}
		return m
	case dsp.MoveContractAgreement:
		return &dsp.ContractAgreementMessage{ProviderPID: prov, ConsumerPID: cons, Agreement: dsp.Policy{
			ID: prov + ":agreement", Type: dsp.TypeAgreement, Target: dataset, Assigner: "urn:provider", Assignee: "urn:consumer",
			Timestamp: "2026-11-25T09:00:00Z", Permission: terms}}
	case dsp.MoveAgreementVerification:
		return &dsp.ContractAgreementVerificationMessage{ProviderPID: prov, ConsumerPID: cons}
	case dsp.MoveEventAccepted:
		return &dsp.ContractNegotiationEventMessage{ProviderPID: prov, ConsumerPID: cons, EventType: dsp.EventAccepted}
	case dsp.MoveEventFinalized:
		return &dsp.ContractNegotiationEventMessage{ProviderPID: prov, ConsumerPID: cons, EventType: dsp.EventFinalized}
	case dsp.MoveNegotiationTermination:
		return &dsp.ContractNegotiationTerminationMessage{ProviderPID: prov, ConsumerPID: cons, Code: "TEST", Reason: []any{"ended by the scenario"}}
	}
	t.Fatalf("no message for %s", move)
	return nil
}

// transfer plays a transfer process scenario between dataport, in role dut, and
// the kit, under an agreement both hold.
func transfer(t *testing.T, dut dsp.Role, steps ...step) {
	t.Helper()
	parties := map[dsp.Role]*party[dsp.TransferState]{
		dsp.Provider: {role: dsp.Provider, pid: newPID(t), underTest: dut == dsp.Provider},
		dsp.Consumer: {role: dsp.Consumer, pid: newPID(t), underTest: dut == dsp.Consumer},
	}
	for i, st := range steps {
		from, to := parties[st.by], parties[st.by.Other()]
		move := dsp.TransferMove(st.move)
		if st.refuse && from.underTest {
			t.Fatalf("step %d: the scenario has dataport send a message it must refuse", i)
		}
		if from.underTest {
			if _, err := from.state.Next(from.role, move); err != nil {
				t.Fatalf("step %d: dataport would not send %s: %v", i, move, err)
			}
		}
		msg := transferMessage(t, move, from)
		raw, err := dsp.Encode(msg)
		if err != nil {
			t.Fatalf("step %d: %s does not validate: %v", i, move, err)
		}
		before := to.state
		status, body := receiveTransfer(t, to, from.role, raw, msg.MessageKind())
		if st.refuse {
			var e dsp.TransferError
			if status != http.StatusBadRequest {
				t.Fatalf("step %d: %s in %s answered %d %s; want 400", i, move, before, status, body)
			}
			if err := dsp.Decode(body, &e); err != nil {
				t.Fatalf("step %d: the error body is no TransferError: %v\n%s", i, err, body)
			}
			prov, cons := to.pids()
			if e.Code != dsp.CodeInvalidState || e.ProviderPID != prov || e.ConsumerPID != cons || len(e.Reason) == 0 ||
				!strings.Contains(fmt.Sprint(e.Reason[0]), string(before)) {
				t.Fatalf("step %d: error %+v", i, e)
			}
			if to.state != before || from.state != before {
				t.Fatalf("step %d: a refused %s moved the transfer from %s to %s/%s", i, move, before, to.state, from.state)
			}
			continue
		}
		if status != http.StatusOK && status != http.StatusCreated {
			t.Fatalf("step %d: %s in %q answered %d %s", i, move, before, status, body)
		}
		var ack dsp.TransferProcess
		if err := dsp.Decode(body, &ack); err != nil {
			t.Fatalf("step %d: the ACK is no TransferProcess: %v\n%s", i, err, body)
		}
		if from.peerPID == "" {
			from.peerPID = map[dsp.Role]string{dsp.Provider: ack.ProviderPID, dsp.Consumer: ack.ConsumerPID}[to.role]
		}
		from.state = ack.State
		if from.state != to.state {
			t.Fatalf("step %d: the parties disagree: %s and %s", i, from.state, to.state)
		}
	}
}

func receiveTransfer(t *testing.T, to *party[dsp.TransferState], sender dsp.Role, raw []byte, kind string) (int, []byte) {
	t.Helper()
	w := httptest.NewRecorder()
	msg := messageOf[kind]()
	if err := dsp.Decode(raw, msg); err != nil {
		prov, cons := to.pids()
		dsp.WriteError(w, dsp.TransferProcessProtocol, prov, cons, err)
		return w.Code, w.Body.Bytes()
	}
	move, err := dsp.TransferMoveOf(msg)
	if err != nil {
		t.Fatal(err)
	}
	if to.peerPID == "" {
		to.peerPID = peerPIDOf(msg, to.role)
	}
	created := to.state == ""
	next, err := to.state.Next(sender, move)
	if err != nil && to.underTest {
		prov, cons := to.pids()
		dsp.WriteError(w, dsp.TransferProcessProtocol, prov, cons, err)
		return w.Code, w.Body.Bytes()
	}
	if err != nil {
		t.Fatalf("the kit's side refuses %s in %s: the scenario is wrong: %v", move, to.state, err)
	}
	to.state = next
	prov, cons := to.pids()
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	if err := dsp.WriteMessage(w, status, &dsp.TransferProcess{ProviderPID: prov, ConsumerPID: cons, State: next}); err != nil {
		t.Fatal(err)
	}
	return w.Code, w.Body.Bytes()
}

func transferMessage(t *testing.T, move dsp.TransferMove, from *party[dsp.TransferState]) dsp.Message {
	t.Helper()
	prov, cons := from.pids()
	switch move {
	case dsp.MoveTransferRequest:
		return &dsp.TransferRequestMessage{ConsumerPID: cons, AgreementID: "urn:uuid:e8dc8655-44c2-46ef-b701-4cffdc2faa44",
			Format: "HttpData-PULL", CallbackAddress: "https://consumer.example/callback"}
	case dsp.MoveTransferStart:
		m := &dsp.TransferStartMessage{ProviderPID: prov, ConsumerPID: cons}
		if from.role == dsp.Provider {
			m.DataAddress = &dsp.DataAddress{EndpointType: "https://w3id.org/idsa/v4.1/HTTP", Endpoint: "https://provider.example/pull/" + prov,
				EndpointProperties: []dsp.EndpointProperty{{Name: "authorization", Value: "token"}, {Name: "authType", Value: "bearer"}}}
		}
		return m
	case dsp.MoveTransferCompletion:
		return &dsp.TransferCompletionMessage{ProviderPID: prov, ConsumerPID: cons}
	case dsp.MoveTransferSuspension:
		return &dsp.TransferSuspensionMessage{ProviderPID: prov, ConsumerPID: cons, Code: "TEST", Reason: []any{"paused by the scenario"}}
	case dsp.MoveTransferTermination:
		return &dsp.TransferTerminationMessage{ProviderPID: prov, ConsumerPID: cons, Code: "TEST", Reason: []any{"ended by the scenario"}}
	}
	t.Fatalf("no message for %s", move)
	return nil
}
