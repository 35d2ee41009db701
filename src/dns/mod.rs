//! DNS: TXT lookups for domain verification (hickory-resolver), and a small
//! authoritative server (hickory-server) for the demo zone and the tests.

pub mod server;

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

use crate::domain::domains::Lookup;

/// Looks up TXT records with no caching at all, so that a record published
/// a moment after a failed check is seen by the next one.
#[derive(Clone)]
pub struct TxtResolver {
    resolver: TokioResolver,
}

impl TxtResolver {
    /// Queries `servers` only (UDP and TCP), or the system's resolvers when
    /// the list is empty. One lookup takes at most `timeout` × 2.
    pub fn new(servers: &[SocketAddr], timeout: Duration) -> anyhow::Result<Self> {
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 1;
        opts.cache_size = 0;
        opts.positive_max_ttl = Some(Duration::ZERO);
        opts.negative_max_ttl = Some(Duration::ZERO);
        opts.use_hosts_file = ResolveHosts::Never;
        let builder = if servers.is_empty() {
            Resolver::builder_tokio()?
        } else {
            // Ask every server at once, so one dead server does not turn
            // into a timeout while another would answer.
            opts.num_concurrent_reqs = servers.len();
            let name_servers = servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            Resolver::builder_with_config(
                ResolverConfig::from_name_servers(name_servers),
                TokioRuntimeProvider::default(),
            )
        };
        Ok(Self {
            resolver: builder.with_options(opts).build()?,
        })
    }

    /// The TXT records at `name`, each with its character-strings joined
    /// (never joined across records), or what the resolver saw instead.
    pub async fn lookup(&self, name: &str) -> Lookup {
        // A fully qualified name, so no search list is ever appended.
        let fqdn = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        match self.resolver.txt_lookup(fqdn).await {
            Ok(answer) => {
                let records: Vec<String> = answer
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        RData::TXT(txt) => Some(
                            txt.txt_data
                                .iter()
                                .map(|s| String::from_utf8_lossy(s).into_owned())
                                .collect::<String>(),
                        ),
                        _ => None,
                    })
                    .collect();
                if records.is_empty() {
                    Lookup::NoTxtRecord
                } else {
                    Lookup::Records(records)
                }
            }
            Err(e) => classify(&e),
        }
    }
}

fn classify(e: &NetError) -> Lookup {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. })) => {
            match *response_code {
                ResponseCode::NXDomain => Lookup::NoSuchName,
                ResponseCode::NoError => Lookup::NoTxtRecord,
                other => Lookup::ServerFailure(other.to_str().to_string()),
            }
        }
        NetError::Dns(DnsError::ResponseCode(code)) => {
            Lookup::ServerFailure(code.to_str().to_string())
        }
        NetError::Timeout => Lookup::Timeout,
        NetError::NoConnections => {
            Lookup::ServerFailure("no DNS server accepted the connection".to_string())
        }
        other => Lookup::ServerFailure(other.to_string()),
    }
}
