package dsp

import (
	"encoding/json"
	"errors"
)

// Catalog Protocol messages (DSP 2025-1, "Catalog Protocol"): a consumer asks
// for a provider's catalog or one dataset of it; the provider answers with a DCAT
// catalog or dataset whose offers are ODRL policies, or with a catalog error.

// CatalogRequestMessage asks for a provider's catalog (POST <base>/catalog/request).
type CatalogRequestMessage struct {
	Context Context `json:"@context,omitempty"`
	Type    string  `json:"@type,omitempty"`
	// Filter is an implementation-specific query; its form is not specified.
	Filter []any `json:"filter,omitzero"`
}

// MessageKind implements Message.
func (*CatalogRequestMessage) MessageKind() string { return KindCatalogRequest }

// DatasetRequestMessage asks for one dataset (GET <base>/catalog/datasets/:id).
type DatasetRequestMessage struct {
	Context Context `json:"@context,omitempty"`
	Type    string  `json:"@type,omitempty"`
	Dataset string  `json:"dataset"`
}

// MessageKind implements Message.
func (*DatasetRequestMessage) MessageKind() string { return KindDatasetRequest }

// Catalog is a dcat:Catalog: the answer to a catalog request (with "@context"
// and participantId, the provider's identifier), or a catalog nested in one. A
// catalog carries no policy of its own.
type Catalog struct {
	Context       Context        `json:"@context,omitempty"`
	ID            string         `json:"@id"`
	Type          string         `json:"@type,omitempty"` // "Catalog"
	ParticipantID string         `json:"participantId,omitempty"`
	Dataset       []Dataset      `json:"dataset,omitzero"`
	Catalog       []Catalog      `json:"catalog,omitzero"`
	Service       []DataService  `json:"service,omitzero"`
	Distribution  []Distribution `json:"distribution,omitzero"`
	Extra         Extra          `json:"-"`
}

// MessageKind implements Message.
func (*Catalog) MessageKind() string { return KindCatalog }

type plainCatalog Catalog

// MarshalJSON writes the catalog (typed "Catalog" when Type is empty) and its
// extra properties.
func (c Catalog) MarshalJSON() ([]byte, error) {
	x := plainCatalog(c)
	x.Extra = nil
	if x.Type == "" {
		x.Type = KindCatalog
	}
	return marshalWithExtra(x, c.Extra)
}

// UnmarshalJSON reads the catalog, keeping properties it does not name in Extra.
func (c *Catalog) UnmarshalJSON(data []byte) error {
	var x plainCatalog
	extra, err := unmarshalWithExtra(data, &x)
	if err != nil {
		return err
	}
	x.Extra = extra
	*c = Catalog(x)
	return nil
}

// Dataset is a dcat:Dataset with its offers (odrl:hasPolicy, each an Offer
// without a target) and distributions: the answer to a dataset request (with
// "@context"), or an entry of a catalog.
type Dataset struct {
	Context      Context        `json:"@context,omitempty"`
	ID           string         `json:"@id"`
	Type         string         `json:"@type,omitempty"` // "Dataset"
	HasPolicy    []Policy       `json:"hasPolicy"`
	Distribution []Distribution `json:"distribution"`
	Extra        Extra          `json:"-"`
}

// MessageKind implements Message.
func (*Dataset) MessageKind() string { return KindDataset }

type plainDataset Dataset

// MarshalJSON writes the dataset (typed "Dataset" when Type is empty) and its
// extra properties.
func (d Dataset) MarshalJSON() ([]byte, error) {
	x := plainDataset(d)
	x.Extra = nil
	if x.Type == "" {
		x.Type = KindDataset
	}
	return marshalWithExtra(x, d.Extra)
}

// UnmarshalJSON reads the dataset, keeping properties it does not name in Extra.
func (d *Dataset) UnmarshalJSON(data []byte) error {
	var x plainDataset
	extra, err := unmarshalWithExtra(data, &x)
	if err != nil {
		return err
	}
	x.Extra = extra
	*d = Dataset(x)
	return nil
}

// Distribution is a dcat:Distribution: a format (dct:format, e.g.
// "HttpData-PULL"; what a transfer request names) served by a data service.
type Distribution struct {
	Type          string        `json:"@type,omitempty"` // "Distribution"
	Format        string        `json:"format"`
	AccessService AccessService `json:"accessService"`
	HasPolicy     []Policy      `json:"hasPolicy,omitzero"`
	Extra         Extra         `json:"-"`
}

type plainDistribution Distribution

// MarshalJSON writes the distribution (typed "Distribution" when Type is empty)
// and its extra properties.
func (d Distribution) MarshalJSON() ([]byte, error) {
	x := plainDistribution(d)
	x.Extra = nil
	if x.Type == "" {
		x.Type = "Distribution"
	}
	return marshalWithExtra(x, d.Extra)
}

// UnmarshalJSON reads the distribution, keeping properties it does not name in Extra.
func (d *Distribution) UnmarshalJSON(data []byte) error {
	var x plainDistribution
	extra, err := unmarshalWithExtra(data, &x)
	if err != nil {
		return err
	}
	x.Extra = extra
	*d = Distribution(x)
	return nil
}

// AccessService is a distribution's dcat:accessService: the @id of a data service
// the catalog lists, or the data service itself.
type AccessService struct {
	Ref     string       // the service's @id, when written as a reference
	Service *DataService // the service, when written inline
}

// MarshalJSON writes the service inline when there is one, else the reference.
func (a AccessService) MarshalJSON() ([]byte, error) {
	if a.Service != nil {
		return json.Marshal(a.Service)
	}
	return json.Marshal(a.Ref)
}

// UnmarshalJSON reads a reference (a string) or a data service (an object).
func (a *AccessService) UnmarshalJSON(data []byte) error {
	var ref string
	if json.Unmarshal(data, &ref) == nil {
		*a = AccessService{Ref: ref}
		return nil
	}
	var s DataService
	if err := json.Unmarshal(data, &s); err != nil {
		return errors.New("accessService: neither a reference nor a DataService: " + err.Error())
	}
	*a = AccessService{Service: &s}
	return nil
}

// DataService is a dcat:DataService: a connector endpoint (dcat:endpointURL).
type DataService struct {
	ID                  string    `json:"@id"`
	Type                string    `json:"@type,omitempty"` // "DataService"
	EndpointURL         string    `json:"endpointURL"`
	EndpointDescription string    `json:"endpointDescription,omitempty"`
	ServesDataset       []Dataset `json:"servesDataset,omitzero"`
	Extra               Extra     `json:"-"`
}

type plainDataService DataService

// MarshalJSON writes the service (typed "DataService" when Type is empty) and its
// extra properties.
func (s DataService) MarshalJSON() ([]byte, error) {
	x := plainDataService(s)
	x.Extra = nil
	if x.Type == "" {
		x.Type = "DataService"
	}
	return marshalWithExtra(x, s.Extra)
}

// UnmarshalJSON reads the service, keeping properties it does not name in Extra.
func (s *DataService) UnmarshalJSON(data []byte) error {
	var x plainDataService
	extra, err := unmarshalWithExtra(data, &x)
	if err != nil {
		return err
	}
	x.Extra = extra
	*s = DataService(x)
	return nil
}

// CatalogError is a provider's answer to a catalog or dataset request it does
// not serve (DSP 2025-1, "Catalog Error").
type CatalogError struct {
	Context Context `json:"@context,omitempty"`
	Type    string  `json:"@type,omitempty"`
	Code    string  `json:"code,omitempty"`
	Reason  []any   `json:"reason,omitzero"`
}

// MessageKind implements Message.
func (*CatalogError) MessageKind() string { return KindCatalogError }
