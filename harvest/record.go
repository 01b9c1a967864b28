// Package harvest keeps the exchange's catalog in step with international data
// platforms: connectors read a platform (the AWS Open Data Registry, a CKAN portal,
// a DCAT catalog, a partner feed) into Records; the sync engine maps each record to
// a product under the source's participant, adds, revises and delists by content
// hash, and files each run with its counts and per-record errors.
package harvest

import (
	"context"
	"time"

	"github.com/dataport/dataport"
)

// Record is one dataset as a connector read it, normalised. Every field but ID and
// Title may be empty when the source has none.
type Record struct {
	// ID identifies the dataset within its source, stably across runs (a registry
	// file's name without .yaml, a CKAN package id, a DCAT dataset IRI).
	ID string `json:"id"`
	// Ref says where the record came from, for reports: a file name, a URL.
	Ref string `json:"ref,omitempty"`

	Title       dataport.Bilingual `json:"title"`
	Summary     dataport.Bilingual `json:"summary,omitempty"`
	Description dataport.Bilingual `json:"description,omitempty"`
	Publisher   string             `json:"publisher,omitempty"` // who manages the data (ManagedBy, organization, dct:publisher)
	Contact     string             `json:"contact,omitempty"`   // a URL or e-mail address
	Homepage    string             `json:"homepage,omitempty"`  // documentation or landing page
	Keywords    []string           `json:"keywords,omitempty"`
	Categories  []string           `json:"categories,omitempty"` // the source's own themes or groups
	// UpdateFrequency in the source's words ("Daily", "Not updated",
	// "http://purl.org/cld/freq/monthly").
	UpdateFrequency string `json:"update_frequency,omitempty"`
	// License in the source's words: an SPDX id, a URL, a CKAN licence id, or prose.
	License    string    `json:"license,omitempty"`
	Citation   string    `json:"citation,omitempty"`
	Issued     time.Time `json:"issued,omitzero"`
	Modified   time.Time `json:"modified,omitzero"`
	Deprecated bool      `json:"deprecated,omitempty"`

	Distributions []Distribution `json:"distributions,omitempty"`

	// Extra keeps source fields with no place above (e.g. the registry's
	// DataAtWork, ADXCategories), so that a change in them is a change of the
	// record too.
	Extra map[string]any `json:"extra,omitempty"`
}

// Distribution is one way to get the data.
type Distribution struct {
	Title     string `json:"title,omitempty"`
	URL       string `json:"url,omitempty"` // download or access URL
	Format    string `json:"format,omitempty"`
	MediaType string `json:"media_type,omitempty"`
	Size      int64  `json:"size,omitempty"`
	// S3 is set for an object-store resource (the registry's S3 buckets).
	S3 *S3Resource `json:"s3,omitempty"`
}

// S3Resource is an S3 bucket (or a prefix of one) the data sits in.
type S3Resource struct {
	ARN              string `json:"arn"`
	Region           string `json:"region"`
	Bucket           string `json:"bucket"`
	Prefix           string `json:"prefix,omitempty"`
	Type             string `json:"type,omitempty"` // "S3 Bucket", "S3 Prefix", …
	RequesterPays    bool   `json:"requester_pays,omitempty"`
	AccountRequired  bool   `json:"account_required,omitempty"`
	ControlledAccess string `json:"controlled_access,omitempty"`
}

// Problem is a record a connector could not read, and why. The run goes on.
type Problem struct {
	Ref    string `json:"ref"`             // a file name, a URL, a page
	ID     string `json:"id,omitempty"`    // the record's id, when known
	Reason string `json:"reason"`          // precise: the field and what is wrong
	Field  string `json:"field,omitempty"` // the field at fault, when one is
}

// Connector reads a source. Read calls yield for every record and problem, in a
// stable order, and returns an error only when the source as a whole cannot be read
// (the folder is missing, the portal is down on the first page): then the run
// fails and nothing is delisted.
type Connector interface {
	Read(ctx context.Context, yield func(Record) error, problem func(Problem)) error
}
