package dsp_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/dsp"
)

// arrow is one transition of a state machine as the specification draws it.
type arrow struct {
	from, to, move string
	by             string // "C", "P" or "C/P"
}

// negotiationFigure transcribes the contract negotiation state machine of DSP
// 2025-1 ("Contract Negotiation Protocol", "State Machine"), and the text's rule
// that the termination message "can be sent at any state of a CN" by either side
// ("Contract Negotiation Termination Message"); the figure draws only some of
// those termination arrows.
var negotiationFigure = []arrow{
	{"", "REQUESTED", "ContractRequestMessage", "C"},
	{"", "OFFERED", "ContractOfferMessage", "P"},
	{"REQUESTED", "OFFERED", "ContractOfferMessage", "P"},
	{"REQUESTED", "AGREED", "ContractAgreementMessage", "P"},
	{"OFFERED", "REQUESTED", "ContractRequestMessage", "C"},
	{"OFFERED", "ACCEPTED", "ContractNegotiationEventMessage:ACCEPTED", "C"},
	{"ACCEPTED", "AGREED", "ContractAgreementMessage", "P"},
	{"AGREED", "VERIFIED", "ContractAgreementVerificationMessage", "C"},
	{"VERIFIED", "FINALIZED", "ContractNegotiationEventMessage:FINALIZED", "P"},
	{"REQUESTED", "TERMINATED", "ContractNegotiationTerminationMessage", "C/P"},
	{"OFFERED", "TERMINATED", "ContractNegotiationTerminationMessage", "C/P"},
	{"ACCEPTED", "TERMINATED", "ContractNegotiationTerminationMessage", "C/P"},
	{"AGREED", "TERMINATED", "ContractNegotiationTerminationMessage", "C/P"},
	{"VERIFIED", "TERMINATED", "ContractNegotiationTerminationMessage", "C/P"},
}

// transferFigure transcribes the transfer process state machine of DSP 2025-1
// ("Transfer Process Protocol", "State Machine").
var transferFigure = []arrow{
	{"", "REQUESTED", "TransferRequestMessage", "C"},
	{"REQUESTED", "STARTED", "TransferStartMessage", "P"},
	{"REQUESTED", "TERMINATED", "TransferTerminationMessage", "C/P"},
	{"STARTED", "COMPLETED", "TransferCompletionMessage", "C/P"},
	{"STARTED", "SUSPENDED", "TransferSuspensionMessage", "C/P"},
	{"STARTED", "TERMINATED", "TransferTerminationMessage", "C/P"},
	{"SUSPENDED", "STARTED", "TransferStartMessage", "C/P"},
	{"SUSPENDED", "TERMINATED", "TransferTerminationMessage", "C/P"},
}

var (
	negotiationStates = []dsp.NegotiationState{"", dsp.NegotiationRequested, dsp.NegotiationOffered, dsp.NegotiationAccepted,
		dsp.NegotiationAgreed, dsp.NegotiationVerified, dsp.NegotiationFinalized, dsp.NegotiationTerminated}
	negotiationMoves = []dsp.NegotiationMove{dsp.MoveContractRequest, dsp.MoveContractOffer, dsp.MoveContractAgreement,
		dsp.MoveAgreementVerification, dsp.MoveEventAccepted, dsp.MoveEventFinalized, dsp.MoveNegotiationTermination}
	transferStates = []dsp.TransferState{"", dsp.TransferRequested, dsp.TransferStarted, dsp.TransferSuspended,
		dsp.TransferCompleted, dsp.TransferTerminated}
	transferMoves = []dsp.TransferMove{dsp.MoveTransferRequest, dsp.MoveTransferStart, dsp.MoveTransferCompletion,
		dsp.MoveTransferSuspension, dsp.MoveTransferTermination}
	roles = []dsp.Role{dsp.Consumer, dsp.Provider}
)

// lookup returns where the figure's arrow for (from, move, by) leads.
func lookup(figure []arrow, from, move string, by dsp.Role) (string, bool) {
	letter := map[dsp.Role]string{dsp.Consumer: "C", dsp.Provider: "P"}[by]
	for _, a := range figure {
		if a.from == from && a.move == move && strings.Contains(a.by, letter) {
			return a.to, true
		}
	}
	return "", false
}

// Every message from either side in every state: where the figure has an arrow,
// the machine follows it; everywhere else the move is a state transition error
// (400 with INVALID_STATE_TRANSITION) that names the state, and the state stays.
func TestNegotiationStateMachine(t *testing.T) {
	arrows := 0
	for _, s := range negotiationStates {
		for _, m := range negotiationMoves {
			for _, by := range roles {
				to, ok := lookup(negotiationFigure, string(s), string(m), by)
				got, err := s.Next(by, m)
				name := fmt.Sprintf("%q + %s from %s", s, m, by)
				if ok {
					arrows++
					if err != nil || string(got) != to {
						t.Errorf("%s = %q, %v; want %s", name, got, err, to)
					}
					continue
				}
				checkRefused(t, name, string(s), string(got), err)
			}
		}
	}
	if arrows != 19 { // 14 arrows, 5 of them by either side
		t.Errorf("%d (state, move, role) triples allowed; the figure has 19", arrows)
	}
}

func TestTransferStateMachine(t *testing.T) {
	arrows := 0
	for _, s := range transferStates {
		for _, m := range transferMoves {
			for _, by := range roles {
				to, ok := lookup(transferFigure, string(s), string(m), by)
				got, err := s.Next(by, m)
				name := fmt.Sprintf("%q + %s from %s", s, m, by)
				if ok {
					arrows++
					if err != nil || string(got) != to {
						t.Errorf("%s = %q, %v; want %s", name, got, err, to)
					}
					continue
				}
				checkRefused(t, name, string(s), string(got), err)
			}
		}
	}
	if arrows != 14 { // 8 arrows, 6 of them by either side
		t.Errorf("%d (state, move, role) triples allowed; the figure has 14", arrows)
	}
}

func checkRefused(t *testing.T, name, state, got string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s = %q; want a state transition error", name, got)
		return
	}
	if got != state {
		t.Errorf("%s moved to %q on error", name, got)
	}
	if dataport.KindOf(err) != dataport.KindConflict || dsp.StatusOf(err) != 400 || dsp.CodeOf(err) != dsp.CodeInvalidState {
		t.Errorf("%s: %v (status %d, code %s); want 400 %s", name, err, dsp.StatusOf(err), dsp.CodeOf(err), dsp.CodeInvalidState)
	}
	if want := state; want != "" && !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %q does not name the state", name, err)
	}
}

// The spec's own statements about particular errors.
func TestStateMachineErrorsTheSpecNames(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		// "It is an error for a Consumer to send the message with an event type FINALIZED to the Provider."
		{"consumer finalizes", negotiationErr(dsp.NegotiationVerified, dsp.Consumer, dsp.MoveEventFinalized), "is the provider's message"},
		// "It is an error for a Provider to send the message with an event type ACCEPTED to the Consumer."
		{"provider accepts", negotiationErr(dsp.NegotiationOffered, dsp.Provider, dsp.MoveEventAccepted), "is the consumer's message"},
		// "It is considered an error … to send an event after the CN state machine has entered a terminal state."
		{"event after finalization", negotiationErr(dsp.NegotiationFinalized, dsp.Provider, dsp.MoveEventFinalized), "none, the state is final"},
		{"termination after termination", negotiationErr(dsp.NegotiationTerminated, dsp.Consumer, dsp.MoveNegotiationTermination), "none, the state is final"},
		// The Transfer Start Message of a requested transfer is the provider's.
		{"consumer starts a requested transfer", transferErr(dsp.TransferRequested, dsp.Consumer, dsp.MoveTransferStart), "is the provider's message"},
		{"a transfer request on a transfer", transferErr(dsp.TransferStarted, dsp.Consumer, dsp.MoveTransferRequest), "allowed: TransferCompletionMessage (either), TransferSuspensionMessage (either), TransferTerminationMessage (either)"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v; want it to say %q", c.name, c.err, c.want)
		}
	}
	if got := dsp.NegotiationOffered.Moves(); strings.Join(got, ", ") != "ContractRequestMessage (consumer), ContractNegotiationEventMessage:ACCEPTED (consumer), ContractNegotiationTerminationMessage (either)" {
		t.Errorf("OFFERED admits %v", got)
	}
	if !dsp.NegotiationFinalized.Terminal() || dsp.NegotiationVerified.Terminal() || !dsp.TransferCompleted.Terminal() || dsp.TransferSuspended.Terminal() {
		t.Error("Terminal is wrong")
	}
}

func negotiationErr(s dsp.NegotiationState, by dsp.Role, m dsp.NegotiationMove) error {
	_, err := s.Next(by, m)
	return err
}

func transferErr(s dsp.TransferState, by dsp.Role, m dsp.TransferMove) error {
	_, err := s.Next(by, m)
	return err
}

// The paths of the TCK's positive scenarios run through; each line is one
// scenario's sequence of (sender, message).
func TestStateMachinePaths(t *testing.T) {
	type step struct {
		by dsp.Role
		m  string
	}
	C, P := dsp.Consumer, dsp.Provider
	req, off, agr, ver := string(dsp.MoveContractRequest), string(dsp.MoveContractOffer), string(dsp.MoveContractAgreement), string(dsp.MoveAgreementVerification)
	acc, fin, term := string(dsp.MoveEventAccepted), string(dsp.MoveEventFinalized), string(dsp.MoveNegotiationTermination)
	for _, c := range []struct {
		path []step
		want dsp.NegotiationState
	}{
		{[]step{{C, req}, {P, off}, {C, acc}, {P, agr}, {C, ver}, {P, fin}}, dsp.NegotiationFinalized},
		{[]step{{C, req}, {P, agr}, {C, ver}, {P, fin}}, dsp.NegotiationFinalized},
		{[]step{{C, req}, {P, off}, {C, req}, {P, term}}, dsp.NegotiationTerminated},
		{[]step{{C, req}, {P, off}, {C, term}}, dsp.NegotiationTerminated},
		{[]step{{C, req}, {P, term}}, dsp.NegotiationTerminated},
		{[]step{{C, req}, {C, term}}, dsp.NegotiationTerminated},
		{[]step{{C, req}, {P, agr}, {C, term}}, dsp.NegotiationTerminated},
		{[]step{{C, req}, {P, off}, {P, term}}, dsp.NegotiationTerminated},
		{[]step{{C, req}, {P, off}, {C, acc}, {P, term}}, dsp.NegotiationTerminated},
		{[]step{{C, req}, {P, agr}, {C, ver}, {P, term}}, dsp.NegotiationTerminated},
		{[]step{{P, off}, {C, acc}, {P, agr}, {C, ver}, {P, fin}}, dsp.NegotiationFinalized}, // a provider-initiated negotiation
	} {
		var s dsp.NegotiationState
		for i, st := range c.path {
			var err error
			if s, err = s.Next(st.by, dsp.NegotiationMove(st.m)); err != nil {
				t.Fatalf("%v: step %d: %v", c.path, i, err)
			}
		}
		if s != c.want {
			t.Errorf("%v ends %s, want %s", c.path, s, c.want)
		}
	}

	start, comp, susp, tterm := string(dsp.MoveTransferStart), string(dsp.MoveTransferCompletion), string(dsp.MoveTransferSuspension), string(dsp.MoveTransferTermination)
	treq := string(dsp.MoveTransferRequest)
	for _, c := range []struct {
		path []step
		want dsp.TransferState
	}{
		{[]step{{C, treq}, {P, start}, {P, tterm}}, dsp.TransferTerminated},
		{[]step{{C, treq}, {P, start}, {P, comp}}, dsp.TransferCompleted},
		{[]step{{C, treq}, {P, start}, {P, susp}, {P, tterm}}, dsp.TransferTerminated},
		{[]step{{C, treq}, {P, start}, {P, susp}, {P, start}, {P, comp}}, dsp.TransferCompleted},
		{[]step{{C, treq}, {P, tterm}}, dsp.TransferTerminated},
		{[]step{{C, treq}, {P, start}, {C, tterm}}, dsp.TransferTerminated},
		{[]step{{C, treq}, {P, start}, {C, comp}}, dsp.TransferCompleted},
		{[]step{{C, treq}, {P, start}, {C, susp}, {C, tterm}}, dsp.TransferTerminated},
		{[]step{{C, treq}, {P, start}, {C, susp}, {C, start}, {C, comp}}, dsp.TransferCompleted},
		{[]step{{C, treq}, {C, tterm}}, dsp.TransferTerminated},
	} {
		var s dsp.TransferState
		for i, st := range c.path {
			var err error
			if s, err = s.Next(st.by, dsp.TransferMove(st.m)); err != nil {
				t.Fatalf("%v: step %d: %v", c.path, i, err)
			}
		}
		if s != c.want {
			t.Errorf("%v ends %s, want %s", c.path, s, c.want)
		}
	}
}
