"""Running systems over an SNR grid: Monte Carlo, results on disk, resume."""
