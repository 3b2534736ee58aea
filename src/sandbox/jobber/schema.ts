/**
 * The sandbox's GraphQL schema: a strict subset of Jobber's official schema (2023-01 introspection
 * in test/fixtures/jobber-schema-2023-01.json). Every type, field, argument and type string here
 * matches Jobber's; test/sandbox/schema.test.ts checks that, so do not invent fields.
 * Kept as a string (not a .graphql file) so the TypeScript build carries it.
 */
export const JOBBER_SANDBOX_SDL = /* GraphQL */ `
  """
  An encoded id (base64 of a global id such as gid://Jobber/Client/1)
  """
  scalar EncodedId

  """
  An ISO 8601-encoded datetime
  """
  scalar ISO8601DateTime

  enum JobStatusTypeEnum {
    requires_invoicing
    archived
    late
    today
    upcoming
    action_required
    on_hold
    unscheduled
    active
  }

  enum InvoiceStatusTypeEnum {
    draft
    awaiting_payment
    paid
    past_due
    bad_debt
  }

  enum RequestStatusTypeEnum {
    new
    completed
    converted
    archived
    upcoming
    overdue
    unscheduled
    assessment_completed
    today
  }

  enum QuoteStatusTypeEnum {
    draft
    awaiting_response
    archived
    approved
    converted
    changes_requested
  }

  enum VisitStatusTypeEnum {
    ACTIVE
    COMPLETED
    LATE
    TODAY
    UNSCHEDULED
    UPCOMING
  }

  enum IncomeAdjustmentType {
    INVOICE
    REFUND
    CORRECTION
    INITIAL_BALANCE
    FAILED_ACH_PAYMENT
    PAYMENT
    DEPOSIT
    BAD_DEBT
  }

  enum PaymentType {
    CASH
    CHEQUE
    CREDIT_CARD
    BANK_TRANSFER
    MONEY_ORDER
    OTHER
    JOBBER_PAYMENTS
    EPAYMENT
    CONSUMER_FINANCING
  }

  enum JobTypeTypeEnum {
    ONE_OFF
    RECURRING
  }

  type PageInfo {
    endCursor: String
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
    startCursor: String
  }

  input Iso8601DateTimeRangeInput {
    before: ISO8601DateTime
    after: ISO8601DateTime
    eq: ISO8601DateTime
  }

  input FloatRangeInput {
    min: Float
    max: Float
    eq: Float
  }

  input ClientFilterAttributes {
    isCompany: Boolean
    isLead: Boolean
    isArchived: Boolean
    updatedAt: Iso8601DateTimeRangeInput
    createdAt: Iso8601DateTimeRangeInput
  }

  input JobFilterAttributes {
    jobType: JobTypeTypeEnum
    createdAt: Iso8601DateTimeRangeInput
    startAt: Iso8601DateTimeRangeInput
    endAt: Iso8601DateTimeRangeInput
    completedAt: Iso8601DateTimeRangeInput
    status: JobStatusTypeEnum
  }

  input InvoiceFilterAttributes {
    clientId: EncodedId
    total: FloatRangeInput
    issuedDate: Iso8601DateTimeRangeInput
    dueDate: Iso8601DateTimeRangeInput
    updatedAt: Iso8601DateTimeRangeInput
    createdAt: Iso8601DateTimeRangeInput
    status: InvoiceStatusTypeEnum
  }

  input RequestFilterAttributes {
    clientId: EncodedId
    propertyId: EncodedId
    status: RequestStatusTypeEnum
    updatedAt: Iso8601DateTimeRangeInput
    createdAt: Iso8601DateTimeRangeInput
  }

  input IntRangeInput {
    min: Int
    max: Int
    eq: Int
  }

  input PaymentRecordFilterAttributes {
    entryDate: Iso8601DateTimeRangeInput
    adjustmentType: IncomeAdjustmentType
    paymentType: PaymentType
  }

  input PropertiesFilterAttributes {
    clientId: EncodedId
  }

  input VisitFilterAttributes {
    status: VisitStatusTypeEnum
    createdAt: Iso8601DateTimeRangeInput
    startAt: Iso8601DateTimeRangeInput
    endAt: Iso8601DateTimeRangeInput
    completedAt: Iso8601DateTimeRangeInput
  }

  input QuoteFilterAttributes {
    clientId: EncodedId
    quoteNumber: IntRangeInput
    status: QuoteStatusTypeEnum
    cost: FloatRangeInput
    sentAt: Iso8601DateTimeRangeInput
    updatedAt: Iso8601DateTimeRangeInput
    createdAt: Iso8601DateTimeRangeInput
  }

  type Account {
    accountOwner: User!
    createdAt: ISO8601DateTime!
    currentUser: User!
    id: EncodedId!
    name: String!
  }

  type Name {
    first: String!
    full: String!
    last: String!
  }

  type UserEmail {
    isValid: Boolean!
    raw: String!
  }

  type User {
    account: Account
    email: UserEmail!
    id: EncodedId!
    isAccountAdmin: Boolean!
    isAccountOwner: Boolean!
    isCurrentUser: Boolean!
    name: Name!
  }

  type ClientAddress {
    city: String!
    country: String!
    postalCode: String!
    province: String!
    street: String!
    street1: String!
    street2: String!
  }

  type Email {
    address: String!
    client: Client!
    description: String!
    id: EncodedId!
    primary: Boolean!
  }

  type ClientPhoneNumber {
    client: Client!
    description: String!
    friendly: String!
    id: EncodedId!
    normalizedPhoneNumber: String
    number: String!
    primary: Boolean!
    smsAllowed: Boolean!
  }

  type Client {
    balance: Float!
    billingAddress: ClientAddress
    companyName: String
    createdAt: ISO8601DateTime!
    defaultEmails: [String!]!
    emails: [Email!]!
    firstName: String!
    id: EncodedId!
    invoices(after: String, before: String, first: Int, last: Int): InvoiceConnection!
    isArchivable: Boolean!
    isArchived: Boolean!
    isCompany: Boolean!
    isLead: Boolean!
    jobberWebUri: String!
    jobs(after: String, before: String, first: Int, last: Int): JobConnection!
    lastName: String!
    name: String!
    phones: [ClientPhoneNumber!]!
    secondaryName: String
    title: String
    updatedAt: ISO8601DateTime!
  }

  type Job {
    client: Client!
    completedAt: ISO8601DateTime
    createdAt: ISO8601DateTime!
    endAt: ISO8601DateTime
    id: EncodedId!
    instructions: String
    invoices(after: String, before: String, first: Int, last: Int): InvoiceConnection!
    jobNumber: Int!
    jobStatus: JobStatusTypeEnum!
    jobType: JobTypeTypeEnum!
    jobberWebUri: String!
    startAt: ISO8601DateTime
    title: String
    total: Float!
    updatedAt: ISO8601DateTime!
  }

  type InvoiceAmounts {
    depositAmount: Float!
    discountAmount: Float!
    invoiceBalance: Float!
    nonTaxAmount: Float!
    paymentsTotal: Float!
    subtotal: Float!
    taxAmount: Float!
    tipsTotal: Float!
    total: Float!
  }

  type Invoice {
    amounts: InvoiceAmounts
    client: Client
    createdAt: ISO8601DateTime!
    dueDate: ISO8601DateTime
    id: EncodedId!
    invoiceNumber: String!
    invoiceStatus: InvoiceStatusTypeEnum!
    issuedDate: ISO8601DateTime
    jobberWebUri: String!
    jobs(after: String, before: String, first: Int, last: Int): JobConnection!
    message: String
    receivedDate: ISO8601DateTime
    subject: String!
    updatedAt: ISO8601DateTime!
  }

  type Request {
    client: Client!
    companyName: String
    contactName: String
    createdAt: ISO8601DateTime!
    email: String
    id: EncodedId!
    jobberWebUri: String!
    phone: String
    requestStatus: RequestStatusTypeEnum!
    source: String!
    title: String
    updatedAt: ISO8601DateTime!
  }

  interface PaymentRecordInterface {
    adjustmentType: IncomeAdjustmentType!
    amount: Float!
    client: Client
    details: String
    entryDate: ISO8601DateTime!
    id: EncodedId!
    invoice: Invoice
    paymentType: PaymentType
  }

  type CashPaymentRecord implements PaymentRecordInterface {
    adjustmentType: IncomeAdjustmentType!
    amount: Float!
    client: Client
    details: String
    entryDate: ISO8601DateTime!
    id: EncodedId!
    invoice: Invoice
    paymentType: PaymentType
  }

  type CheckPaymentRecord implements PaymentRecordInterface {
    adjustmentType: IncomeAdjustmentType!
    amount: Float!
    client: Client
    details: String
    entryDate: ISO8601DateTime!
    id: EncodedId!
    invoice: Invoice
    paymentType: PaymentType
  }

  type CreditCardPaymentRecord implements PaymentRecordInterface {
    adjustmentType: IncomeAdjustmentType!
    amount: Float!
    client: Client
    details: String
    entryDate: ISO8601DateTime!
    id: EncodedId!
    invoice: Invoice
    paymentType: PaymentType
  }

  type BankTransferPaymentRecord implements PaymentRecordInterface {
    adjustmentType: IncomeAdjustmentType!
    amount: Float!
    client: Client
    details: String
    entryDate: ISO8601DateTime!
    id: EncodedId!
    invoice: Invoice
    paymentType: PaymentType
  }

  type MoneyOrderPaymentRecord implements PaymentRecordInterface {
    adjustmentType: IncomeAdjustmentType!
    amount: Float!
    client: Client
    details: String
    entryDate: ISO8601DateTime!
    id: EncodedId!
    invoice: Invoice
    paymentType: PaymentType
  }

  type OtherPaymentRecord implements PaymentRecordInterface {
    adjustmentType: IncomeAdjustmentType!
    amount: Float!
    client: Client
    details: String
    entryDate: ISO8601DateTime!
    id: EncodedId!
    invoice: Invoice
    paymentType: PaymentType
  }

  type PaymentRecordInterfaceEdge {
    cursor: String!
    node: PaymentRecordInterface!
  }

  type PaymentRecordInterfaceConnection {
    edges: [PaymentRecordInterfaceEdge!]
    nodes: [PaymentRecordInterface!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type Property {
    city: String!
    client: Client
    country: String!
    id: EncodedId!
    isBillingAddress: Boolean
    jobberWebUri: String!
    postalCode: String!
    province: String!
    street: String!
    street1: String!
    street2: String!
  }

  type PropertyEdge {
    cursor: String!
    node: Property!
  }

  type PropertyConnection {
    edges: [PropertyEdge!]
    nodes: [Property!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type Visit {
    client: Client!
    completedAt: ISO8601DateTime
    createdAt: ISO8601DateTime!
    endAt: ISO8601DateTime
    id: EncodedId!
    instructions: String
    invoice: Invoice
    isComplete: Boolean!
    job: Job!
    property: Property!
    startAt: ISO8601DateTime
    title: String
    visitStatus: VisitStatusTypeEnum!
  }

  type VisitEdge {
    cursor: String!
    node: Visit!
  }

  type VisitConnection {
    edges: [VisitEdge!]
    nodes: [Visit!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type QuoteAmounts {
    depositAmount: Float!
    discountAmount: Float!
    nonTaxAmount: Float!
    outstandingDepositAmount: Float!
    subtotal: Float!
    taxAmount: Float!
    total: Float!
  }

  type Quote {
    amounts: QuoteAmounts!
    client: Client
    cost: Float!
    createdAt: ISO8601DateTime!
    id: EncodedId!
    jobberWebUri: String!
    jobs(after: String, before: String, first: Int, last: Int): JobConnection
    message: String
    property: Property
    quoteNumber: String!
    quoteStatus: QuoteStatusTypeEnum!
    request: Request
    sentAt: ISO8601DateTime
    title: String
    transitionedAt: ISO8601DateTime!
    updatedAt: ISO8601DateTime!
  }

  type QuoteEdge {
    cursor: String!
    node: Quote!
  }

  type QuoteConnection {
    edges: [QuoteEdge!]
    nodes: [Quote!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type RequestEdge {
    cursor: String!
    node: Request!
  }

  type RequestConnection {
    edges: [RequestEdge!]
    nodes: [Request!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type ClientEdge {
    cursor: String!
    node: Client!
  }

  type ClientConnection {
    edges: [ClientEdge!]
    nodes: [Client!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type JobEdge {
    cursor: String!
    node: Job!
  }

  type JobConnection {
    edges: [JobEdge!]
    nodes: [Job!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type InvoiceEdge {
    cursor: String!
    node: Invoice!
  }

  type InvoiceConnection {
    edges: [InvoiceEdge!]
    nodes: [Invoice!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type Application {
    author: String!
    id: EncodedId!
    name: String!
  }

  interface UserErrorsInterface {
    message: String!
    path: [String!]!
  }

  type MutationErrors implements UserErrorsInterface {
    message: String!
    path: [String!]!
  }

  type AppDisconnectPayload {
    app: Application
    userErrors: [MutationErrors!]!
  }

  type Query {
    account: Account
    client(id: EncodedId!): Client
    clients(filter: ClientFilterAttributes, searchTerm: String, after: String, before: String, first: Int, last: Int): ClientConnection!
    invoice(id: EncodedId!): Invoice
    invoices(filter: InvoiceFilterAttributes, searchTerm: String, after: String, before: String, first: Int, last: Int): InvoiceConnection!
    job(id: EncodedId!): Job
    jobs(filter: JobFilterAttributes, searchTerm: String, after: String, before: String, first: Int, last: Int): JobConnection!
    paymentRecord(id: EncodedId!): PaymentRecordInterface
    paymentRecords(filter: PaymentRecordFilterAttributes, after: String, before: String, first: Int, last: Int): PaymentRecordInterfaceConnection
    properties(filter: PropertiesFilterAttributes, searchTerm: String, after: String, before: String, first: Int, last: Int): PropertyConnection!
    property(id: EncodedId!): Property
    quote(id: EncodedId!): Quote
    quotes(filter: QuoteFilterAttributes, searchTerm: String, after: String, before: String, first: Int, last: Int): QuoteConnection!
    request(id: EncodedId!): Request
    requests(filter: RequestFilterAttributes, searchTerm: String, after: String, before: String, first: Int, last: Int): RequestConnection!
    user(id: EncodedId): User
    visit(id: EncodedId!): Visit
    visits(filter: VisitFilterAttributes, after: String, before: String, first: Int, last: Int): VisitConnection!
  }

  type Mutation {
    appDisconnect: AppDisconnectPayload!
  }
`;
