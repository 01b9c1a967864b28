package main

import (
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/demo"
)

// The bench's catalogue is the demo's (demo.Catalog), product for product, so that
// scale 1 searches a catalogue of the demo's size and words.

// benchListing is one product of a unit's catalogue: its details, its supplier
// (an index into unitMembers) and whether the unit's agent lists it for that
// foreign supplier.
type benchListing struct {
	d        catalog.Details
	supplier int
	viaAgent bool
}

// unitCatalog is unit u's catalogue, as demo.SeedCatalog lists it: domestic
// suppliers (members 0, 1 and 5) list their own; the foreign suppliers' (2, 3)
// come in through the agent (4).
func unitCatalog(u int) []benchListing {
	domestic, foreign := []int{0, 1, 5}, []int{2, 3}
	var out []benchListing
	for _, l := range demo.Catalog(u) {
		if l.ViaAgent {
			out = append(out, benchListing{d: l.Details, supplier: foreign[l.Supplier], viaAgent: true})
		} else {
			out = append(out, benchListing{d: l.Details, supplier: domestic[l.Supplier]})
		}
	}
	return out
}
