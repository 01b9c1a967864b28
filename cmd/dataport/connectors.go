package main

import "github.com/dataport/dataport/harvest"

// connectors are the harvest's connectors by source kind.
func connectors() harvest.Connectors {
	return harvest.Connectors{}
}
