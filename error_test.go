package dataport_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dataport/dataport"
)

func TestErrorKindsSurviveWrapping(t *testing.T) {
	base := dataport.Errorf("registry.Get", dataport.KindNotFound, "no participant %s", "prt_x")
	wrapped := dataport.Wrap("api.get", fmt.Errorf("context: %w", base))
	if dataport.KindOf(wrapped) != dataport.KindNotFound || dataport.MessageOf(wrapped) != "no participant prt_x" {
		t.Fatalf("kind %v, message %q", dataport.KindOf(wrapped), dataport.MessageOf(wrapped))
	}
	if !errors.Is(wrapped, base) {
		t.Fatal("the cause is lost")
	}
}

func TestInternalDetailIsNotAMessage(t *testing.T) {
	err := dataport.Wrap("store.Tx", errors.New("pq: password authentication failed for user root"))
	if dataport.KindOf(err) != dataport.KindInternal {
		t.Fatalf("kind %v", dataport.KindOf(err))
	}
	if msg := dataport.MessageOf(err); strings.Contains(msg, "password") || msg != "internal error" {
		t.Fatalf("client message %q leaks the cause", msg)
	}
	if !strings.Contains(err.Error(), "password") {
		t.Fatal("the log line lost the cause")
	}
	if dataport.MessageOf(errors.New("plain")) != "internal error" || dataport.KindOf(nil) != dataport.KindInternal {
		t.Fatal("a plain error is internal")
	}
}

func TestProblemsNameFields(t *testing.T) {
	var p dataport.Problems
	if p.Err("op") != nil {
		t.Fatal("no problems, no error")
	}
	p.Add("uscc", "check character is %q", "X")
	p.Add("jurisdiction", "required")
	err := p.Err("registry.Create")
	fs := dataport.FieldsOf(err)
	if dataport.KindOf(err) != dataport.KindInvalid || len(fs) != 2 || fs[0].Field != "uscc" {
		t.Fatalf("%v: %v", err, fs)
	}
	if !strings.Contains(err.Error(), `uscc: check character is "X"; jurisdiction: required`) {
		t.Fatalf("Error() = %q", err.Error())
	}
}

func TestRoles(t *testing.T) {
	a := dataport.Actor{ParticipantID: "prt_1", Roles: []dataport.Role{dataport.RoleBuyer}}
	if !a.Has(dataport.RoleSupplier, dataport.RoleBuyer) || a.Has(dataport.RoleOperator) || a.Anonymous() {
		t.Fatal("Has")
	}
	if dataport.Role("king").Valid() || !dataport.RoleRegulator.Valid() {
		t.Fatal("Valid")
	}
	if !strings.HasPrefix(dataport.NewID("prt"), "prt_") || dataport.NewID("x") == dataport.NewID("x") {
		t.Fatal("NewID")
	}
}
