// SPDX-License-Identifier: Apache-2.0

package cefexporter

import (
	"errors"
	"fmt"
	"net"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confignet"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/podtrail/podtrail/exporter/cefexporter/internal/cef"
)

// Values of format, protocol and framing.
const (
	FormatCEF  = "cef"
	FormatLEEF = "leef"

	ProtocolRFC5424 = "rfc5424"
	ProtocolRFC3164 = "rfc3164"

	FramingOctetCounting = "octet_counting"
	FramingNewline       = "newline"
)

// Config is the cef exporter configuration.
type Config struct {
	// AddrConfig is the syslog server: endpoint (host:port), transport
	// (tcp, tcp4, tcp6, udp, udp4, udp6) and dialer::timeout.
	confignet.AddrConfig `mapstructure:",squash"`
	// TLS, when the section is present (even empty), wraps the TCP
	// connection in TLS (RFC 5425); `insecure: true` turns it off again.
	TLS configoptional.Optional[configtls.ClientConfig] `mapstructure:"tls"`

	// Format of the message: cef (ArcSight CEF:0) or leef (QRadar LEEF:2.0).
	Format string `mapstructure:"format"`
	// LEEFDelimiter separates LEEF attributes: one character, or its hex
	// code as xHH / 0xHH. Default tab.
	LEEFDelimiter string `mapstructure:"leef_delimiter"`

	// Protocol of the syslog header: rfc5424 or rfc3164.
	Protocol string `mapstructure:"protocol"`
	// Framing of messages on TCP: octet_counting (RFC 6587 3.4.1) or newline
	// (3.4.2). Default: octet_counting for rfc5424, newline for rfc3164.
	// Not used with UDP (one message per datagram).
	Framing string `mapstructure:"framing"`
	// Facility of the messages: kern ... local7, or 0-23.
	Facility string `mapstructure:"facility"`
	// Hostname in the syslog header; default the collector host's name.
	Hostname string `mapstructure:"hostname"`
	// AppName is the RFC 5424 APP-NAME / RFC 3164 TAG.
	AppName string `mapstructure:"app_name"`

	TimeoutConfig    exporterhelper.TimeoutConfig                             `mapstructure:",squash"`
	QueueBatchConfig configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	BackOffConfig    configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func (cfg *Config) stream() bool {
	switch cfg.Transport {
	case confignet.TransportTypeUDP, confignet.TransportTypeUDP4, confignet.TransportTypeUDP6:
		return false
	}
	return true
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Endpoint == "" {
		errs = append(errs, errors.New("endpoint is required (host:port of the syslog server)"))
	} else if _, _, err := net.SplitHostPort(cfg.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("endpoint %q: %w", cfg.Endpoint, err))
	}
	switch cfg.Transport {
	case confignet.TransportTypeTCP, confignet.TransportTypeTCP4, confignet.TransportTypeTCP6,
		confignet.TransportTypeUDP, confignet.TransportTypeUDP4, confignet.TransportTypeUDP6:
	default:
		errs = append(errs, fmt.Errorf("transport %q: tcp, tcp4, tcp6, udp, udp4 or udp6", cfg.Transport))
	}
	if !cfg.stream() && cfg.TLS.HasValue() && !cfg.TLS.Get().Insecure {
		errs = append(errs, errors.New("tls needs a tcp transport"))
	}
	switch cfg.Format {
	case FormatCEF, FormatLEEF:
	default:
		errs = append(errs, fmt.Errorf("format %q: cef or leef", cfg.Format))
	}
	if _, err := cef.ParseLEEFDelimiter(cfg.LEEFDelimiter); err != nil {
		errs = append(errs, fmt.Errorf("leef_delimiter: %w", err))
	}
	switch cfg.Protocol {
	case ProtocolRFC5424, ProtocolRFC3164:
	default:
		errs = append(errs, fmt.Errorf("protocol %q: rfc5424 or rfc3164", cfg.Protocol))
	}
	switch cfg.Framing {
	case "":
	case FramingOctetCounting, FramingNewline:
		if !cfg.stream() {
			errs = append(errs, fmt.Errorf("framing %q: only on tcp, a UDP datagram holds one message", cfg.Framing))
		}
	default:
		errs = append(errs, fmt.Errorf("framing %q: octet_counting or newline", cfg.Framing))
	}
	if _, err := cef.ParseFacility(cfg.Facility); err != nil {
		errs = append(errs, fmt.Errorf("facility: %w", err))
	}
	if cef.Header(cfg.Hostname, cef.MaxHostname) != cfg.Hostname {
		errs = append(errs, fmt.Errorf("hostname %q: at most %d printable ASCII characters, no spaces", cfg.Hostname, cef.MaxHostname))
	}
	maxApp := cef.MaxAppName
	if cfg.Protocol == ProtocolRFC3164 {
		maxApp = cef.MaxTag3164
	}
	if cfg.AppName == "" || cef.Header(cfg.AppName, maxApp) != cfg.AppName {
		errs = append(errs, fmt.Errorf("app_name %q: 1 to %d printable ASCII characters, no spaces", cfg.AppName, maxApp))
	}
	return errors.Join(errs...)
}

// framing returns the framing to use on the transport.
func (cfg *Config) framing() cef.Framing {
	switch {
	case !cfg.stream():
		return cef.FramingNone
	case cfg.Framing == FramingOctetCounting:
		return cef.FramingOctetCounting
	case cfg.Framing == FramingNewline:
		return cef.FramingNewline
	case cfg.Protocol == ProtocolRFC3164:
		return cef.FramingNewline
	}
	return cef.FramingOctetCounting
}
