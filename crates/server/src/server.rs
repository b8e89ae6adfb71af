//! `Server::start`: the control plane (REST API and console), the expiry watch and, when
//! configured, the gateway, from one typed config.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_api::control::AfterWrite;
use gatehouse_api::{router, AppState, Control, MetricsSource};
use gatehouse_store::SqlStore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::gateway::{GatewayServer, GatewayServerConfig};
use crate::listen::bind;
use crate::watch::WatchConfig;
use crate::{StartError, StoreLocation};

/// Everything `gatehouse serve` runs, as plain data: `TryFrom<ServeArgs>` in the CLI builds it
/// from flags, `gatehouse dev` and tests build it directly.
pub struct ServerConfig {
    pub store: StoreLocation,
    /// The REST API (`/api/v1`) and the web console (`/`).
    pub api_listen: SocketAddr,
    /// The account owner created on first start.
    pub admin_email: String,
    pub watch: WatchConfig,
    /// The mTLS gateway, when there is an upstream.
    pub gateway: Option<GatewayServerConfig>,
    /// More hooks to run after every namespace write, after the gateway's (`gatehouse dev`
    /// registers new namespaces on its Temporal dev server with one).
    pub namespace_hooks: Vec<AfterWrite>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("store", &self.store)
            .field("api_listen", &self.api_listen)
            .field("admin_email", &self.admin_email)
            .field("watch", &self.watch)
            .field("gateway", &self.gateway)
            .field("namespace_hooks", &self.namespace_hooks.len())
            .finish()
    }
}

/// The server's entry point.
#[derive(Debug)]
pub struct Server;

/// A started server: where it listens, and its tasks until the token is cancelled.
#[derive(Debug)]
pub struct Running {
    pub api: SocketAddr,
    pub gateway: Option<SocketAddr>,
    pub store: Arc<SqlStore>,
    gateway_handle: Option<Arc<gatehouse_gateway::Gateway>>,
    tasks: TaskTracker,
    api_task: tokio::task::JoinHandle<Result<(), StartError>>,
}

/// How long the expiry watch may take to finish a send in progress at shutdown.
const WATCH_GRACE: Duration = Duration::from_secs(30);

impl Server {
    /// Opens the store (creating the data dir and, on first start, the account owner), binds
    /// the API and the gateway, and starts them with the expiry watch. Everything stops when
    /// `token` is cancelled: the API finishes the requests in flight, the gateway drains its
    /// connections, the watch finishes the send in progress. The API failing cancels `token`.
    pub async fn start(
        config: ServerConfig,
        token: CancellationToken,
    ) -> Result<Running, StartError> {
        let data_dir = &config.store.data_dir;
        data_dir.create()?;
        let store = Arc::new(config.store.open(false).await?);
        crate::secrets::bootstrap(&store, data_dir, &config.admin_email).await?;
        let (listener, api) = bind(config.api_listen, "--api-listen").await?;
        tracing::info!(api = %format!("http://{api}/api/v1"), console = %format!("http://{api}/"), data_dir = %data_dir.root().display(), "gatehouse serving");
        let notifier = config.watch.notifier(data_dir, store.clone())?;
        let gateway = match config.gateway {
            Some(g) => {
                Some(GatewayServer::start(g, data_dir, store.clone(), token.child_token()).await?)
            }
            None => {
                tracing::info!(
                    "no --upstream: the gateway is not running (the API and expiry watch are)"
                );
                None
            }
        };
        let secret =
            crate::secrets::session_secret(&store, data_dir, !config.store.is_embedded()).await?;
        let mut control = Control::new(store.clone());
        let mut metrics: Vec<MetricsSource> = Vec::new();
        if let Some(gw) = &gateway {
            let m = gw.gateway.metrics();
            metrics.push(Arc::new(
                move |out: &mut String, visible: &dyn Fn(&str) -> bool| m.render(out, visible),
            ));
            let g = gw.gateway.clone();
            // A write reaches this process's gateway at once, not at its next reload.
            control = control.on_namespace_change(Arc::new(move || {
                let g = g.clone();
                Box::pin(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(2), g.apply_changes()).await;
                })
            }));
        }
        for hook in config.namespace_hooks {
            control = control.on_namespace_change(hook);
        }
        let mut state = AppState::new(control).with_session_secret(&secret);
        state.metrics = metrics;
        let mut app = router(state);
        if let Some(gw) = &gateway {
            app = gw.jwks_route().merge(app);
        }

        let tasks = TaskTracker::new();
        let watch_token = token.child_token();
        let every = config.watch.every;
        let watch = tasks.spawn(async move { notifier.run(every, watch_token).await });
        tasks.spawn(async move {
            if tokio::time::timeout(WATCH_GRACE, watch).await.is_err() {
                tracing::warn!("the expiry watch did not stop within 30 s");
            }
        });
        let gateway_addr = gateway.as_ref().map(|g| g.addr);
        let gateway_handle = gateway.as_ref().map(|g| g.gateway.clone());
        if let Some(gw) = gateway {
            tasks.spawn(gw.stopped());
        }
        let api_task = tokio::spawn({
            let token = token.clone();
            async move {
                let served = axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(token.clone().cancelled_owned())
                .await
                .map_err(|e| StartError::internal(format!("server error: {e}")));
                // Whatever ended the API ends the rest.
                token.cancel();
                served
            }
        });
        tasks.close();
        Ok(Running {
            api,
            gateway: gateway_addr,
            store,
            gateway_handle,
            tasks,
            api_task,
        })
    }
}

impl Running {
    /// Makes the gateway serve what the store holds now (a write made straight to the store,
    /// not through the control service, which does this itself).
    pub async fn apply_changes(&self) {
        if let Some(g) = &self.gateway_handle {
            g.apply_changes().await;
        }
    }

    /// Waits until the API, the gateway and the watch have all stopped (after the token was
    /// cancelled, or the API failed).
    pub async fn stopped(self) -> Result<(), StartError> {
        let api = self
            .api_task
            .await
            .map_err(|e| StartError::internal(format!("the API task failed: {e}")));
        self.tasks.wait().await;
        api?
    }
}
