//! The discrete-event simulator: event queue, virtual clock, network model and churn,
//! driving one `core` peer per simulated peer.
