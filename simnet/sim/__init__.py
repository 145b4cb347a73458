"""The SimPy world: UEs, BS, the shared uplink, mobility, beamforming, and the variant runner."""
