// Systolic GEMM core, top level: C[M][N] = A[M][K] * B[K][N], int IN_W x int IN_W ->
// int ACC_W (wrapping), M, K, N given at run time on the cfg port (1..2^DIM_W-1 each,
// latched on the cfg handshake; cfg_ready is low while a GEMM is in progress).
// DATAFLOW = 0: output-stationary (systolic_gemm_os.sv), 1: weight-stationary
// (systolic_gemm_ws.sv). Beat layouts and tile orders are described in those files and
// in docs/systolic.md; the cycle model is models/systolic/systolic_cost.cpp.
// Synchronous active-low reset.
module systolic_gemm #(
    parameter int ROWS     = 4,
    parameter int COLS     = 4,
    parameter int IN_W     = 8,
    parameter int ACC_W    = 32,
    parameter int DIM_W    = 16,
    parameter int DATAFLOW = 0,
    parameter int ACC_ROWS = 32
) (
    input  logic                    clk,
    input  logic                    rst_n,
    input  logic                    cfg_valid,
    output logic                    cfg_ready,
    input  logic [DIM_W-1:0]        cfg_m,
    input  logic [DIM_W-1:0]        cfg_k,
    input  logic [DIM_W-1:0]        cfg_n,
    input  logic                    a_valid,
    output logic                    a_ready,
    input  logic [ROWS*IN_W-1:0]    a_data,
    input  logic                    b_valid,
    output logic                    b_ready,
    input  logic [COLS*IN_W-1:0]    b_data,
    output logic                    c_valid,
    input  logic                    c_ready,
    output logic [COLS*ACC_W-1:0]   c_data,
    output logic                    c_last
);
  if (DATAFLOW == 0) begin : g_os
    systolic_gemm_os #(
        .ROWS(ROWS), .COLS(COLS), .IN_W(IN_W), .ACC_W(ACC_W), .DIM_W(DIM_W)
    ) u_core (.*);
  end else begin : g_ws
    systolic_gemm_ws #(
        .ROWS(ROWS), .COLS(COLS), .IN_W(IN_W), .ACC_W(ACC_W), .DIM_W(DIM_W),
        .ACC_ROWS(ACC_ROWS)
    ) u_core (.*);
  end
endmodule
