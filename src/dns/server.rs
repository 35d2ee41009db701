//! A small authoritative DNS server, in process: the demo's own zone (so the
//! TXT record can be "published" from the page) and the test suite's DNS.
//! Records can be changed while it runs.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hickory_proto::rr::rdata::{A, CNAME, NS, SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// One zone served from memory.
#[derive(Clone)]
pub struct Zone {
    origin: Name,
    handler: Arc<InMemoryZoneHandler<TokioRuntimeProvider>>,
}

fn name(s: &str) -> anyhow::Result<Name> {
    let fqdn = if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    };
    Name::from_str(&fqdn).with_context(|| format!("not a DNS name: {s}"))
}

impl Zone {
    pub fn new(origin: &str) -> anyhow::Result<Self> {
        let origin = name(origin)?;
        let mut handler =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let ns = name("ns")?.append_domain(&origin)?;
        let soa = SOA::new(
            ns.clone(),
            name("hostmaster")?.append_domain(&origin)?,
            1,
            3600,
            600,
            86400,
            0,
        );
        handler.upsert_mut(Record::from_rdata(origin.clone(), 0, RData::SOA(soa)), 1);
        handler.upsert_mut(Record::from_rdata(origin.clone(), 0, RData::NS(NS(ns))), 1);
        Ok(Self {
            origin,
            handler: Arc::new(handler),
        })
    }

    /// Replaces the TXT records at `owner` (absolute, or `*.…` for a
    /// wildcard); each inner list is one record's character-strings.
    pub async fn set_txt(&self, owner: &str, records: &[&[&str]]) -> anyhow::Result<()> {
        let owner = name(owner)?;
        let serial = self.handler.serial().await;
        let mut set = RecordSet::new(owner.clone(), RecordType::TXT, serial);
        for strings in records {
            let txt = TXT::new(strings.iter().map(|s| s.to_string()).collect());
            set.insert(
                Record::from_rdata(owner.clone(), 0, RData::TXT(txt)),
                serial,
            );
        }
        let key = RrKey::new(LowerName::from(&owner), RecordType::TXT);
        self.handler.records_mut().await.insert(key, Arc::new(set));
        Ok(())
    }

    /// Makes `owner` an alias of `target`.
    pub async fn set_cname(&self, owner: &str, target: &str) -> anyhow::Result<()> {
        let (owner, target) = (name(owner)?, name(target)?);
        let serial = self.handler.serial().await;
        self.handler
            .upsert(
                Record::from_rdata(owner, 0, RData::CNAME(CNAME(target))),
                serial,
            )
            .await;
        Ok(())
    }

    /// Gives `owner` an address record (a name that exists without TXT).
    pub async fn set_a(&self, owner: &str, ip: std::net::Ipv4Addr) -> anyhow::Result<()> {
        let serial = self.handler.serial().await;
        self.handler
            .upsert(
                Record::from_rdata(name(owner)?, 0, RData::A(A::from(ip))),
                serial,
            )
            .await;
        Ok(())
    }

    /// Removes every record of `rtype` at `owner`.
    pub async fn remove(&self, owner: &str, rtype: RecordType) -> anyhow::Result<()> {
        let key = RrKey::new(LowerName::from(&name(owner)?), rtype);
        self.handler.records_mut().await.remove(&key);
        Ok(())
    }

    pub fn origin(&self) -> String {
        self.origin.to_string()
    }
}

/// A UDP socket and a TCP listener on the same port. With port 0 the UDP
/// port is picked first; if that port is taken for TCP, another is tried.
async fn bind_pair(bind: SocketAddr) -> anyhow::Result<(UdpSocket, TcpListener, SocketAddr)> {
    let attempts = if bind.port() == 0 { 20 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(bind).await.context("bind DNS UDP socket")?;
        let address = udp.local_addr()?;
        match TcpListener::bind(address).await {
            Ok(tcp) => return Ok((udp, tcp, address)),
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow::anyhow!("bind DNS TCP listener: {last:?}"))
}

/// A running server on a loopback UDP socket and TCP listener.
pub struct DnsServer {
    server: Server<Catalog>,
    address: SocketAddr,
}

impl DnsServer {
    /// Serves `zones` on `bind` (port 0 picks a free port; UDP and TCP share
    /// it). Names outside the zones are refused. Zones listed in `failing`
    /// answer SERVFAIL (for tests of broken nameservers).
    pub async fn start(
        bind: SocketAddr,
        zones: &[&Zone],
        failing: &[&str],
    ) -> anyhow::Result<Self> {
        let mut catalog = Catalog::new();
        for zone in zones {
            let handler: Arc<dyn ZoneHandler> = zone.handler.clone();
            catalog.upsert(LowerName::from(&zone.origin), vec![handler]);
        }
        for zone in failing {
            catalog.upsert(LowerName::from(&name(zone)?), vec![]);
        }
        let (udp, tcp, address) = bind_pair(bind).await?;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 32);
        Ok(Self { server, address })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub async fn stop(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }
}
