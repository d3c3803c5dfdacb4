//! Getting a wgpu device: Vulkan natively (Mesa's lavapipe when there is no GPU), WebGPU in the
//! browser, and WebGL2 when the browser has no WebGPU adapter.

use crate::RenderError;

/// A device and its queue, plus what the adapter is, for the page footer and the logs.
pub struct Gpu {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Adapter name and backend, e.g. "llvmpipe (LLVM 15.0.6, 256 bits) on Vulkan".
    pub description: String,
    /// The backend in use.
    pub backend: wgpu::Backend,
    /// The first GPU error since it was last taken ([`Gpu::take_error`]).
    errors: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// On WebGL the context belongs to a surface, which must live as long as the device.
    _context_surface: Option<wgpu::Surface<'static>>,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu({})", self.description)
    }
}

impl Gpu {
    /// The first error the device reported since the last call, if any.
    pub fn take_error(&self) -> Option<String> {
        self.errors.lock().ok().and_then(|mut slot| slot.take())
    }

    /// Opens a device on `adapter`, with the limits WebGL2 can give so that one code path runs
    /// everywhere, raised to the adapter's buffer sizes so that large models fit in one buffer.
    pub async fn from_adapter(adapter: wgpu::Adapter) -> Result<Self, RenderError> {
        let info = adapter.get_info();
        let supported = adapter.limits();
        let limits = wgpu::Limits {
            max_buffer_size: supported.max_buffer_size,
            max_storage_buffer_binding_size: supported.max_storage_buffer_binding_size,
            max_texture_dimension_2d: supported.max_texture_dimension_2d,
            ..wgpu::Limits::downlevel_webgl2_defaults()
        };
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("veilmark"),
                required_features: wgpu::Features::empty(),
                required_limits: limits,
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::MemoryUsage,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| RenderError::NoDevice(e.to_string()))?;
        // wgpu's default handler panics on an uncaptured error (an abort in wasm); keep the
        // error instead, and let the frame that caused it fail with it.
        let errors: std::sync::Arc<std::sync::Mutex<Option<String>>> = std::sync::Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(std::sync::Arc::new(move |e: wgpu::Error| {
            if let Ok(mut slot) = sink.lock() {
                slot.get_or_insert_with(|| e.to_string());
            }
        }));
        Ok(Self {
            device,
            queue,
            description: format!("{} on {:?}", info.name, info.backend),
            backend: info.backend,
            errors,
            _context_surface: None,
        })
    }

    /// The native device: Vulkan (any adapter, software included) or GL, whichever answers
    /// first; `WGPU_BACKEND` and `WGPU_ADAPTER_NAME` override, as in every wgpu program.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn native() -> Result<Self, RenderError> {
        pollster::block_on(async {
            // Vulkan first (lavapipe included); GL only when there is no Vulkan adapter, since
            // probing GL on a headless machine prints EGL complaints. `WGPU_BACKEND` overrides.
            let chosen = wgpu::Backends::from_env();
            let mut last_error = String::new();
            for backends in [chosen.unwrap_or(wgpu::Backends::VULKAN), wgpu::Backends::GL] {
                let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
                desc.backends = backends;
                let instance = wgpu::Instance::new(desc.with_env());
                match wgpu::util::initialize_adapter_from_env_or_default(&instance, None).await {
                    Ok(adapter) => return Self::from_adapter(adapter).await,
                    Err(e) => last_error = e.to_string(),
                }
                if chosen.is_some() {
                    break;
                }
            }
            Err(RenderError::NoDevice(format!(
                "{last_error} (no Vulkan or GL adapter; on Debian `apt-get install mesa-vulkan-drivers` gives the lavapipe software renderer)"
            )))
        })
    }

    /// The browser device: WebGPU when `prefer_webgpu` and the browser gives an adapter,
    /// otherwise WebGL2 on a canvas that never joins the document (it only carries the GL
    /// context; frames are read back, watermarked and shown on the visible canvas).
    #[cfg(target_arch = "wasm32")]
    pub async fn browser(prefer_webgpu: bool) -> Result<Self, RenderError> {
        if prefer_webgpu {
            let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
            desc.backends = wgpu::Backends::BROWSER_WEBGPU;
            let instance = wgpu::util::new_instance_with_webgpu_detection(desc).await;
            if let Ok(adapter) = instance
                .request_adapter(&wgpu::RequestAdapterOptions::default())
                .await
                && adapter.get_info().backend == wgpu::Backend::BrowserWebGpu
            {
                return Self::from_adapter(adapter).await;
            }
        }
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = wgpu::Backends::GL;
        let instance = wgpu::Instance::new(desc);
        let canvas = web_sys::OffscreenCanvas::new(1, 1)
            .map_err(|_| RenderError::NoDevice("no OffscreenCanvas".into()))?;
        let surface = instance
            .create_surface(wgpu::SurfaceTarget::OffscreenCanvas(canvas))
            .map_err(|e| RenderError::NoDevice(format!("no WebGL2 context: {e}")))?;
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                compatible_surface: Some(&surface),
                ..Default::default()
            })
            .await
            .map_err(|e| RenderError::NoDevice(format!("no WebGPU or WebGL2 adapter: {e}")))?;
        let mut gpu = Self::from_adapter(adapter).await?;
        gpu._context_surface = Some(surface);
        Ok(gpu)
    }
}

/// Yields to the browser's event loop for one macrotask (`setTimeout(0)`), so that it can run
/// the GPU work a frame waits for. Natively there is nothing to wait for.
pub(crate) async fn next_tick() {
    #[cfg(target_arch = "wasm32")]
    {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}
