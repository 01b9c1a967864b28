package api

import (
	"context"

	"github.com/dataport/dataport/notify"
)

type inboxInput struct {
	Limit int `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type inboxOutput struct {
	Body struct {
		Items []notify.Notification `json:"items"`
	}
}

func (s *Server) inbox(ctx context.Context, in *inboxInput) (*inboxOutput, error) {
	ns, err := s.Notify.Inbox(ctx, actorOf(ctx), in.Limit)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &inboxOutput{}
	out.Body.Items = ns
	return out, nil
}

type webhookOutput struct {
	Location string `header:"Location"`
	Body     notify.Webhook
}

func (s *Server) webhook(h notify.Webhook, err error) (*webhookOutput, error) {
	if err != nil {
		return nil, s.problem(err)
	}
	return &webhookOutput{Body: h}, nil
}

type registerWebhookInput struct {
	Body notify.NewWebhook
}

func (s *Server) registerWebhook(ctx context.Context, in *registerWebhookInput) (*webhookOutput, error) {
	out, err := s.webhook(s.Notify.Register(ctx, actorOf(ctx), in.Body))
	if out != nil {
		out.Location = "/api/v1/webhooks/" + out.Body.ID
	}
	return out, err
}

type webhooksOutput struct {
	Body struct {
		Items []notify.Webhook `json:"items"`
	}
}

func (s *Server) listWebhooks(ctx context.Context, _ *struct{}) (*webhooksOutput, error) {
	hs, err := s.Notify.Webhooks(ctx, actorOf(ctx))
	if err != nil {
		return nil, s.problem(err)
	}
	out := &webhooksOutput{}
	out.Body.Items = hs
	return out, nil
}

type webhookPath struct {
	ID string `path:"id" doc:"webhook id"`
}

func (s *Server) deleteWebhook(ctx context.Context, in *webhookPath) (*webhookOutput, error) {
	return s.webhook(s.Notify.Delete(ctx, actorOf(ctx), in.ID))
}

func (s *Server) rotateWebhook(ctx context.Context, in *webhookPath) (*webhookOutput, error) {
	return s.webhook(s.Notify.Rotate(ctx, actorOf(ctx), in.ID))
}

func (s *Server) enableWebhook(ctx context.Context, in *webhookPath) (*webhookOutput, error) {
	return s.webhook(s.Notify.Enable(ctx, actorOf(ctx), in.ID))
}

type deliveriesInput struct {
	ID    string `path:"id" doc:"webhook id"`
	Limit int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
}

type deliveriesOutput struct {
	Body struct {
		Items []notify.WebhookDelivery `json:"items"`
	}
}

func (s *Server) webhookDeliveries(ctx context.Context, in *deliveriesInput) (*deliveriesOutput, error) {
	ds, err := s.Notify.Deliveries(ctx, actorOf(ctx), in.ID, in.Limit)
	if err != nil {
		return nil, s.problem(err)
	}
	out := &deliveriesOutput{}
	out.Body.Items = ds
	return out, nil
}

type redeliverInput struct {
	ID         string `path:"id" doc:"webhook id"`
	DeliveryID string `path:"delivery_id"`
}

type deliveryOutput struct{ Body notify.WebhookDelivery }

func (s *Server) redeliver(ctx context.Context, in *redeliverInput) (*deliveryOutput, error) {
	d, err := s.Notify.Redeliver(ctx, actorOf(ctx), in.ID, in.DeliveryID)
	if err != nil {
		return nil, s.problem(err)
	}
	return &deliveryOutput{Body: d}, nil
}
