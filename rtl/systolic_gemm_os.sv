// Output-stationary systolic GEMM core: ROWS x COLS PEs, PE(i,j) accumulates C[m0+i][n0+j].
//
// Streams (transfer when valid && ready):
//   A beat = one column of an A tile, lane i = A[m0+i][k]   (ROWS x IN_W, signed)
//   B beat = one row of a B tile,     lane j = B[k][n0+j]   (COLS x IN_W, signed)
//   C beat = one row of a C tile,     lane j = C[m0+i][n0+j] (COLS x ACC_W)
//   A and B beats are taken in pairs (a_ready depends on b_valid and vice versa).
//   Tile order: for m0 (step ROWS) { for n0 (step COLS) { for k in 0..K-1 } }.
//   Lanes beyond M or N are don't-care on input; C lanes beyond N are zero; C rows
//   beyond M are not sent. c_last marks the last C beat of the GEMM.
// Schedule: a tile's K waves enter back to back; the next tile follows S = max(K, ROWS,
// COLS) wave slots after the previous one (the core inserts S-K bubbles), so that the
// drain of tile t (result registers read one row per cycle) overlaps the fill and
// compute of tile t+1. Stalls: the whole datapath advances only when the C output
// register is free or being read (adv); missing A/B beats become bubbles.
module systolic_gemm_os #(
    parameter int ROWS  = 4,
    parameter int COLS  = 4,
    parameter int IN_W  = 8,
    parameter int ACC_W = 32,
    parameter int DIM_W = 16
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
  localparam int SMIN = (ROWS > COLS) ? ROWS : COLS;
  localparam int XW = DIM_W + 1;  // width for m0/n0 + tile size comparisons

  typedef struct packed {
    logic v;      // a real wave (not a bubble)
    logic first;  // k == 0
    logic last;   // k == K-1 and this row is inside M
    logic fin;    // last and this is the last C row of the GEMM
  } tag_t;

  // ---------------- control ----------------
  logic busy, feeding, adv;
  logic [DIM_W-1:0] m_q, k_q, n_q, s_q, kc;
  logic [XW-1:0] m0, n0;
  logic o_valid, o_last;
  logic [COLS*ACC_W-1:0] o_data;

  assign adv = !o_valid || c_ready;
  assign cfg_ready = !busy;

  wire slot_is_wave = kc < k_q;
  wire can_take = adv && feeding && slot_is_wave;
  assign a_ready = can_take && b_valid;
  assign b_ready = can_take && a_valid;
  wire wave_fire = can_take && a_valid && b_valid;
  wire slot_done = adv && feeding && (slot_is_wave ? wave_fire : 1'b1);
  wire last_n = (n0 + XW'(COLS)) >= {1'b0, n_q};
  wire last_m = (m0 + XW'(ROWS)) >= {1'b0, m_q};
  wire last_tile = last_n && last_m;
  wire tile_end = slot_done && ((kc == s_q - 1'b1) || (last_tile && kc == k_q - 1'b1));

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      busy <= 1'b0;
      feeding <= 1'b0;
      m_q <= '0; k_q <= '0; n_q <= '0; s_q <= '0;
      kc <= '0; m0 <= '0; n0 <= '0;
    end else begin
      if (cfg_valid && cfg_ready) begin
        busy <= 1'b1;
        feeding <= 1'b1;
        m_q <= cfg_m; k_q <= cfg_k; n_q <= cfg_n;
        s_q <= (cfg_k > DIM_W'(SMIN)) ? cfg_k : DIM_W'(SMIN);
        kc <= '0; m0 <= '0; n0 <= '0;
      end else begin
        if (c_valid && c_ready && c_last) busy <= 1'b0;
        if (tile_end) begin
          kc <= '0;
          if (last_tile) begin
            feeding <= 1'b0;
          end else if (last_n) begin
            n0 <= '0;
            m0 <= m0 + XW'(ROWS);
          end else begin
            n0 <= n0 + XW'(COLS);
          end
        end else if (slot_done) begin
          kc <= kc + 1'b1;
        end
      end
    end
  end

  // ---------------- wave injection and skew ----------------
  logic [ROWS-1:0] row_in_m;
  tag_t [ROWS-1:0] tag_in;
  logic [COLS-1:0][IN_W-1:0] b_masked;

  always_comb begin
    for (int i = 0; i < ROWS; i++) begin
      row_in_m[i] = (m0 + XW'(i)) < {1'b0, m_q};
    end
    for (int i = 0; i < ROWS; i++) begin
      tag_in[i].v = wave_fire;
      tag_in[i].first = (kc == '0);
      tag_in[i].last = (kc == k_q - 1'b1) && row_in_m[i];
      tag_in[i].fin = (kc == k_q - 1'b1) && last_tile && row_in_m[i] &&
                      ((i == ROWS - 1) ? 1'b1 : !row_in_m[(i+1)%ROWS]);
    end
    for (int j = 0; j < COLS; j++) begin
      b_masked[j] = ((n0 + XW'(j)) < {1'b0, n_q}) ? b_data[j*IN_W +: IN_W] : '0;
    end
  end

  localparam int AW = IN_W + $bits(tag_t);
  logic [ROWS-1:0][AW-1:0] a_skewed;
  logic [COLS-1:0][IN_W-1:0] b_skewed;

  for (genvar i = 0; i < ROWS; i++) begin : g_askew
    wire [AW-1:0] a_word = {tag_in[i], a_data[i*IN_W +: IN_W]};
    if (i == 0) begin : g_none
      assign a_skewed[i] = a_word;
    end else begin : g_sr
      logic [AW-1:0] sr [i];
      always_ff @(posedge clk) begin
        if (!rst_n) begin
          for (int d = 0; d < i; d++) sr[d] <= '0;
        end else if (adv) begin
          sr[0] <= a_word;
          for (int d = 1; d < i; d++) sr[d] <= sr[d-1];
        end
      end
      assign a_skewed[i] = sr[i-1];
    end
  end

  for (genvar j = 0; j < COLS; j++) begin : g_bskew
    if (j == 0) begin : g_none
      assign b_skewed[j] = b_masked[j];
    end else begin : g_sr
      logic [IN_W-1:0] sr [j];
      always_ff @(posedge clk) begin
        if (adv) begin
          sr[0] <= b_masked[j];
          for (int d = 1; d < j; d++) sr[d] <= sr[d-1];
        end
      end
      assign b_skewed[j] = sr[j-1];
    end
  end

  // ---------------- PE array ----------------
  logic [AW-1:0]   a_pipe [ROWS][COLS];
  logic [IN_W-1:0] b_pipe [ROWS][COLS];
  logic [ACC_W-1:0] acc [ROWS][COLS];
  logic [ACC_W-1:0] res [ROWS][COLS];
  logic [ROWS-1:0] row_rdy, row_fin;

  for (genvar i = 0; i < ROWS; i++) begin : g_row
    for (genvar j = 0; j < COLS; j++) begin : g_col
      // Tag bits used by the PE (fin is only looked at in the last column).
      wire t_v = a_pipe[i][j][IN_W+3];
      wire t_first = a_pipe[i][j][IN_W+2];
      wire t_last = a_pipe[i][j][IN_W+1];
      logic signed [2*IN_W-1:0] prod;
      logic [ACC_W-1:0] prod_x, sum;
      assign prod = $signed(a_pipe[i][j][IN_W-1:0]) * $signed(b_pipe[i][j]);
      assign prod_x = {{(ACC_W-2*IN_W){prod[2*IN_W-1]}}, prod};
      assign sum = t_first ? prod_x : acc[i][j] + prod_x;

      always_ff @(posedge clk) begin
        if (!rst_n) begin
          a_pipe[i][j] <= '0;
        end else if (adv) begin
          a_pipe[i][j] <= (j == 0) ? a_skewed[i] : a_pipe[i][(j+COLS-1)%COLS];
        end
      end
      always_ff @(posedge clk) begin
        if (adv) begin
          b_pipe[i][j] <= (i == 0) ? b_skewed[j] : b_pipe[(i+ROWS-1)%ROWS][j];
          if (t_v) acc[i][j] <= sum;
          if (t_v && t_last) res[i][j] <= sum;
        end
      end
    end

    // The row is complete once its last column has taken the tile's last wave.
    wire e_v = a_pipe[i][COLS-1][IN_W+3];
    wire e_last = a_pipe[i][COLS-1][IN_W+1];
    wire e_fin = a_pipe[i][COLS-1][IN_W];
    always_ff @(posedge clk) begin
      if (!rst_n) begin
        row_rdy[i] <= 1'b0;
        row_fin[i] <= 1'b0;
      end else if (adv) begin
        row_rdy[i] <= e_v && e_last;
        row_fin[i] <= e_v && e_fin;
      end
    end
  end

  // ---------------- output register ----------------
  logic [COLS*ACC_W-1:0] row_mux;
  always_comb begin
    row_mux = '0;
    for (int i = 0; i < ROWS; i++) begin
      for (int j = 0; j < COLS; j++) begin
        if (row_rdy[i]) row_mux[j*ACC_W +: ACC_W] = row_mux[j*ACC_W +: ACC_W] | res[i][j];
      end
    end
  end

  always_ff @(posedge clk) begin
    if (!rst_n) begin
      o_valid <= 1'b0;
      o_last <= 1'b0;
    end else if (adv) begin
      o_valid <= |row_rdy;
      o_last <= |row_fin;
    end
  end
  always_ff @(posedge clk) begin
    if (adv) o_data <= row_mux;
  end

  assign c_valid = o_valid;
  assign c_data = o_data;
  assign c_last = o_last;
endmodule
