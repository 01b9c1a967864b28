package compliance

import _ "embed"

// DefaultPackSource is the rule pack that ships with dataport.
//
//go:embed default_pack.yaml
var DefaultPackSource []byte
