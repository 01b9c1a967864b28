package registry_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
	"github.com/dataport/dataport/store/storetest"
)

// BenchmarkCreateParticipant registers participants one transaction each: the
// insert, its roles and its filing (sequence number, canonical entry, hash).
func BenchmarkCreateParticipant(b *testing.B) {
	storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
		e := setup(b, engine)
		ctx := context.Background()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			n := domesticBuyer()
			n.USCC = mustUSCC(fmt.Sprintf("91310000%09d", i))
			if _, err := e.reg.CreateParticipant(ctx, e.operator, n); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetParticipant reads one participant with its roles, as the operator.
func BenchmarkGetParticipant(b *testing.B) {
	storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
		e := setup(b, engine)
		ctx := context.Background()
		var ids []string
		for i := range 1000 {
			n := domesticBuyer()
			n.USCC = mustUSCC(fmt.Sprintf("91310000%09d", i+1))
			n.Roles = []dataport.Role{dataport.RoleBuyer, dataport.RoleMerchant}
			p, err := e.reg.CreateParticipant(ctx, e.operator, n)
			if err != nil {
				b.Fatal(err)
			}
			ids = append(ids, p.ID)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p, err := e.reg.GetParticipant(ctx, e.operator, ids[i%len(ids)])
			if err != nil || len(p.Roles) != 2 {
				b.Fatal(p, err)
			}
			i++
		}
	})
}

// BenchmarkGetParticipantParallel reads concurrently, as API requests do.
func BenchmarkGetParticipantParallel(b *testing.B) {
	storetest.ForEachEngine(b, func(b *testing.B, engine store.Engine) {
		e := setup(b, engine)
		ctx := context.Background()
		p, err := e.reg.CreateParticipant(ctx, e.operator, domesticBuyer())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.reg.GetParticipant(ctx, e.operator, p.ID); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
